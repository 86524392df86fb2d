/**
 * In-process checks for the schemas of ./schemas.ts. `checkSchema` interprets the small JSON Schema subset
 * those schemas use (so the schema objects and the checks cannot drift apart); the `validateX` functions add
 * the cross-field rules of each record. All throw a ValidationError naming the first bad field, or return
 * the value typed.
 */
import { ValidationError } from './errors.js';
import {
  type JsonSchema,
  type JsonType,
  manifestSchema,
  problemSchema,
  scoredTreeSchema,
  sequencePairSchema,
  stepPairSchema,
  stepSchema,
  treeSchema,
} from './schemas.js';
import type { Problem, ScoredTree, SequencePair, Step, StepPair, Tree } from './types.js';
import type { Manifest } from './rundir.js';

/** Checks `value` against `schema`; throws ValidationError naming the path (rooted at `path`). */
export function checkSchema(schema: JsonSchema, value: unknown, path: string): void {
  if (schema.const !== undefined && value !== schema.const) {
    throw new ValidationError(path, JSON.stringify(schema.const), value);
  }
  if (schema.enum && !schema.enum.includes(value as never)) {
    throw new ValidationError(path, `one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`, value);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) throw new ValidationError(path, types.join(' or '), value);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) throw new ValidationError(path, `a number >= ${schema.minimum}`, value);
    if (schema.maximum !== undefined && value > schema.maximum) throw new ValidationError(path, `a number <= ${schema.maximum}`, value);
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    throw new ValidationError(path, `a string of length >= ${schema.minLength}`, value);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      throw new ValidationError(path, `an array of length >= ${schema.minItems}`, value);
    }
    if (schema.items) for (let i = 0; i < value.length; i++) checkSchema(schema.items, value[i], `${path}[${i}]`);
  } else if (isPlainObject(value)) {
    for (const key of schema.required ?? []) {
      if (!(key in value) || value[key] === undefined) throw new ValidationError(`${path}.${key}`, 'a value (required)', undefined);
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = schema.properties?.[key];
      if (sub) checkSchema(sub, v, `${path}.${key}`);
      else if (schema.additionalProperties === false) throw new ValidationError(`${path}.${key}`, 'no such field', v);
      else if (typeof schema.additionalProperties === 'object') checkSchema(schema.additionalProperties, v, `${path}.${key}`);
    }
  }
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    // JSON has no NaN/Infinity; refusing them here keeps a record that was valid in memory valid on disk.
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'null': return value === null;
    case 'array': return Array.isArray(value);
    case 'object': return isPlainObject(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function validateProblem(value: unknown, path = 'problem'): Problem {
  checkSchema(problemSchema, value, path);
  return value as Problem;
}

export function validateStep(value: unknown, path = 'step'): Step {
  checkSchema(stepSchema, value, path);
  const step = value as Step;
  if (step.tokenLogprobs && step.tokenLogprobs.length !== (step.tokenIds?.length ?? -1)) {
    throw new ValidationError(`${path}.tokenLogprobs`, `length equal to tokenIds (${step.tokenIds?.length ?? 'absent'})`, step.tokenLogprobs);
  }
  return step;
}

export function validateTree(value: unknown, path = 'tree'): Tree {
  checkSchema(treeSchema, value, path);
  checkTreeShape(value as Tree, path);
  return value as Tree;
}

export function validateScoredTree(value: unknown, path = 'scoredTree'): ScoredTree {
  checkSchema(scoredTreeSchema, value, path);
  const tree = value as ScoredTree;
  checkTreeShape(tree, path);
  sameLength(tree.value, tree.parent.length, `${path}.value`);
  return tree;
}

export function validateStepPair(value: unknown, path = 'stepPair'): StepPair {
  checkSchema(stepPairSchema, value, path);
  return value as StepPair;
}

export function validateSequencePair(value: unknown, path = 'sequencePair'): SequencePair {
  checkSchema(sequencePairSchema, value, path);
  const pair = value as SequencePair;
  // Empty reward lists mean "this method uses none"; otherwise there is one reward per step.
  for (const side of ['chosen', 'rejected'] as const) {
    const rewards = pair[`${side}StepRewards`];
    if (rewards.length !== 0) sameLength(rewards, pair[`${side}Steps`].length, `${path}.${side}StepRewards`);
  }
  return pair;
}

export function validateManifest(value: unknown, path = 'manifest'): Manifest {
  checkSchema(manifestSchema, value, path);
  return value as Manifest;
}

/**
 * The rules a flat tree must keep beyond its schema: one entry per node in every array, node 0 is the root
 * with parent -1, depth 0 and empty text, every other node's parent comes before it (so one pass from
 * 0 to n-1 visits parents first), depth = parent depth + 1, and only terminal nodes carry an answer.
 */
function checkTreeShape(tree: Omit<Tree, 'schema'>, path: string): void {
  const n = tree.parent.length;
  for (const key of ['text', 'depth', 'terminal', 'logprobSum', 'tokenCount', 'answer', 'correct'] as const) {
    sameLength(tree[key], n, `${path}.${key}`);
  }
  for (const [key, values] of Object.entries(tree.stats ?? {})) sameLength(values, n, `${path}.stats.${key}`);
  if (tree.parent[0] !== -1) throw new ValidationError(`${path}.parent[0]`, '-1 (node 0 is the root)', tree.parent[0]);
  if (tree.depth[0] !== 0) throw new ValidationError(`${path}.depth[0]`, '0 (root)', tree.depth[0]);
  if (tree.text[0] !== '') throw new ValidationError(`${path}.text[0]`, 'the empty string (the root holds no step)', tree.text[0]);
  for (let i = 1; i < n; i++) {
    const p = tree.parent[i];
    if (p < 0 || p >= i) throw new ValidationError(`${path}.parent[${i}]`, `a node id in [0, ${i - 1}] (parents precede children)`, p);
    if (tree.depth[i] !== tree.depth[p] + 1) throw new ValidationError(`${path}.depth[${i}]`, `${tree.depth[p] + 1} (parent depth + 1)`, tree.depth[i]);
    if (tree.terminal[p]) throw new ValidationError(`${path}.parent[${i}]`, `a non-terminal node (node ${p} is terminal)`, p);
  }
  for (let i = 0; i < n; i++) {
    if (!tree.terminal[i] && tree.answer[i] !== null) throw new ValidationError(`${path}.answer[${i}]`, 'null at a non-terminal node', tree.answer[i]);
    if (!tree.terminal[i] && tree.correct[i] !== null) throw new ValidationError(`${path}.correct[${i}]`, 'null at a non-terminal node', tree.correct[i]);
  }
}

function sameLength(values: readonly unknown[], n: number, field: string): void {
  if (values.length !== n) throw new ValidationError(field, `an array of length ${n} (one entry per node/step)`, values);
}
