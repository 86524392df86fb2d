/**
 * Versioned JSON Schemas (draft 2020-12 vocabulary, a small subset) for every record stepwise writes.
 * They are plain objects so other tools (Python, jq, ajv) can check run directories; ./validate.ts checks
 * the same schemas in-process, plus the cross-field rules a schema cannot say (equal array lengths, a
 * parent before its child). A record's `schema` field holds `name@version`; bump the version whenever a
 * field changes meaning, and keep a reader for the old one.
 */

/** The subset of JSON Schema that ./validate.ts understands. */
export interface JsonSchema {
  $id?: string;
  $schema?: string;
  description?: string;
  type?: JsonType | JsonType[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  /** false: unknown keys are errors. A schema: every unknown key's value must match it. */
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  enum?: readonly (string | number | boolean | null)[];
  const?: string | number | boolean | null;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';
const str: JsonSchema = { type: 'string' };
const num: JsonSchema = { type: 'number' };
const int: JsonSchema = { type: 'integer' };
const bool: JsonSchema = { type: 'boolean' };
const arr = (items: JsonSchema, minItems?: number): JsonSchema =>
  minItems === undefined ? { type: 'array', items } : { type: 'array', items, minItems };

export const SCHEMA_IDS = {
  problem: 'stepwise.problem@1',
  tree: 'stepwise.tree@1',
  scoredTree: 'stepwise.scored-tree@1',
  stepPair: 'stepwise.step-pair@1',
  sequencePair: 'stepwise.sequence-pair@1',
  manifest: 'stepwise.manifest@1',
} as const;

export const problemSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.problem,
  description: 'A task instance: question, gold answer (graded, never compared raw), source tag.',
  type: 'object',
  properties: {
    schema: { const: SCHEMA_IDS.problem },
    id: { type: 'string', minLength: 1 },
    question: str,
    answer: str,
    source: str,
    solutionSteps: arr(str),
    meta: { type: 'object' },
  },
  required: ['id', 'question', 'answer', 'source'],
  additionalProperties: false,
};

export const stepSchema: JsonSchema = {
  $schema: DRAFT,
  $id: 'stepwise.step@1',
  type: 'object',
  properties: {
    text: str,
    tokenIds: arr({ type: 'integer', minimum: 0 }),
    tokenLogprobs: arr({ type: 'number', maximum: 0 }),
    terminal: bool,
  },
  required: ['text'],
  additionalProperties: false,
};

const treeProperties: Record<string, JsonSchema> = {
  problemId: { type: 'string', minLength: 1 },
  parent: arr({ type: 'integer', minimum: -1 }, 1),
  text: arr(str, 1),
  depth: arr({ type: 'integer', minimum: 0 }, 1),
  terminal: arr(bool, 1),
  logprobSum: arr({ type: 'number', maximum: 0 }, 1),
  tokenCount: arr({ type: 'integer', minimum: 0 }, 1),
  answer: arr({ type: ['string', 'null'] }, 1),
  correct: arr({ type: ['boolean', 'null'] }, 1),
  stats: { type: 'object', additionalProperties: arr(num) },
};
const treeRequired = ['schema', 'problemId', 'parent', 'text', 'depth', 'terminal', 'logprobSum', 'tokenCount', 'answer', 'correct'];

export const treeSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.tree,
  description: 'A reasoning tree as flat per-node arrays; index = node id, node 0 = root (the prompt).',
  type: 'object',
  properties: { schema: { const: SCHEMA_IDS.tree }, ...treeProperties },
  required: treeRequired,
  additionalProperties: false,
};

export const scoredTreeSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.scoredTree,
  description: 'A tree plus one value per node (null = not scored) and the scorer that produced them.',
  type: 'object',
  properties: {
    schema: { const: SCHEMA_IDS.scoredTree },
    ...treeProperties,
    value: arr({ type: ['number', 'null'] }, 1),
    scorer: { type: 'string', minLength: 1 },
  },
  required: [...treeRequired, 'value', 'scorer'],
  additionalProperties: false,
};

const nullableNum: JsonSchema = { type: ['number', 'null'] };

export const stepPairSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.stepPair,
  type: 'object',
  properties: {
    schema: { const: SCHEMA_IDS.stepPair },
    problemId: { type: 'string', minLength: 1 },
    prompt: str,
    prefixSteps: arr(str),
    chosen: str,
    rejected: str,
    chosenValue: nullableNum,
    rejectedValue: nullableNum,
    rule: { type: 'string', minLength: 1 },
  },
  required: ['schema', 'problemId', 'prompt', 'prefixSteps', 'chosen', 'rejected', 'chosenValue', 'rejectedValue', 'rule'],
  additionalProperties: false,
};

export const sequencePairSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.sequencePair,
  type: 'object',
  properties: {
    schema: { const: SCHEMA_IDS.sequencePair },
    problemId: { type: 'string', minLength: 1 },
    prompt: str,
    chosenSteps: arr(str),
    rejectedSteps: arr(str),
    chosenStepRewards: arr(num),
    rejectedStepRewards: arr(num),
    rule: { type: 'string', minLength: 1 },
  },
  required: ['schema', 'problemId', 'prompt', 'chosenSteps', 'rejectedSteps', 'chosenStepRewards', 'rejectedStepRewards', 'rule'],
  additionalProperties: false,
};

const stageSchema: JsonSchema = {
  type: 'object',
  properties: {
    status: { enum: ['pending', 'running', 'complete'] },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    attempts: { type: 'integer', minimum: 0 },
    outputs: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
    summary: { type: 'object' },
  },
  required: ['status', 'startedAt', 'finishedAt', 'attempts', 'outputs'],
  additionalProperties: false,
};

export const manifestSchema: JsonSchema = {
  $schema: DRAFT,
  $id: SCHEMA_IDS.manifest,
  description: 'runs/<name>/manifest.json: config, seeds, code version, per-stage status and output hashes.',
  type: 'object',
  properties: {
    schema: { const: SCHEMA_IDS.manifest },
    name: { type: 'string', minLength: 1 },
    createdAt: str,
    updatedAt: str,
    codeVersion: str,
    config: { type: 'object' },
    seeds: { type: 'object', additionalProperties: int },
    stages: { type: 'object', additionalProperties: stageSchema },
  },
  required: ['schema', 'name', 'createdAt', 'updatedAt', 'codeVersion', 'config', 'seeds', 'stages'],
  additionalProperties: false,
};
