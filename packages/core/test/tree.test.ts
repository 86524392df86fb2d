import { describe, expect, test } from 'vitest';
import { ArgumentError, ValidationError } from '../src/errors.js';
import { manifestSchema, problemSchema, treeSchema } from '../src/schemas.js';
import {
  appendNode,
  childrenLists,
  completePaths,
  createTree,
  leaves,
  pathFromRoot,
  pathToRoot,
  siblings,
  stepsTo,
  toScoredTree,
} from '../src/tree.js';
import { validateProblem, validateScoredTree, validateSequencePair, validateStep, validateStepPair, validateTree } from '../src/validate.js';
import type { Tree } from '../src/types.js';

/** root ─┬─ 1 "a" ─┬─ 3 "c" (terminal, correct)
 *        │         └─ 4 "d" (terminal, wrong)
 *        └─ 2 "b" ── 5 "e" (frontier) */
function sample(): Tree {
  const t = createTree('p1');
  const a = appendNode(t, 0, { text: 'a', logprobSum: -1, tokenCount: 2, stats: { visits: 3 } });
  const b = appendNode(t, 0, { text: 'b', logprobSum: -2, tokenCount: 1 });
  appendNode(t, a, { text: 'c', terminal: true, answer: '5', correct: true });
  appendNode(t, a, { text: 'd', terminal: true, answer: '6', correct: false });
  appendNode(t, b, { text: 'e', stats: { q: 0.5 } });
  return t;
}

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.field;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('tree helpers', () => {
  test('build, paths, children, siblings, complete paths', () => {
    const t = sample();
    expect(validateTree(t)).toBe(t);
    expect(t.depth).toEqual([0, 1, 1, 2, 2, 2]);
    expect(t.stats).toEqual({ visits: [0, 3, 0, 0, 0, 0], q: [0, 0, 0, 0, 0, 0.5] });
    expect(pathToRoot(t, 4)).toEqual([4, 1, 0]);
    expect(pathFromRoot(t, 4)).toEqual([0, 1, 4]);
    expect(stepsTo(t, 4)).toEqual(['a', 'd']);
    expect(childrenLists(t)).toEqual([[1, 2], [3, 4], [5], [], [], []]);
    expect(siblings(t, 3)).toEqual([4]);
    expect(siblings(t, 5)).toEqual([]);
    expect(siblings(t, 0)).toEqual([]);
    expect(leaves(t)).toEqual([3, 4, 5]);
    expect(completePaths(t)).toEqual([[0, 1, 3], [0, 1, 4]]);
  });

  test('refuses bad parents and answers on non-terminal nodes', () => {
    const t = sample();
    expect(() => appendNode(t, 9, { text: 'x' })).toThrow(ArgumentError);
    expect(() => appendNode(t, 3, { text: 'x' })).toThrow(/non-terminal/);
    expect(() => appendNode(t, 1, { text: 'x', answer: '1' })).toThrow(/node.answer/);
    expect(() => pathToRoot(t, -1)).toThrow(ArgumentError);
    expect(t.parent.length).toBe(6); // nothing was appended by the failed calls
  });

  test('scored trees copy the arrays and validate value length', () => {
    const t = sample();
    const s = toScoredTree(t, [null, 0.9, 0.1, 1, 0, null], 'oracle');
    expect(validateScoredTree(s).scorer).toBe('oracle');
    s.text[1] = 'changed';
    expect(t.text[1]).toBe('a');
    expect(() => toScoredTree(t, [0], 'oracle')).toThrow(/value/);
    expect(() => toScoredTree(t, [0, 0, 0, 0, 0, Number.NaN], 'oracle')).toThrow(/value\[5\]/);
    expect(fieldOf(() => validateScoredTree({ ...s, value: [0, 1] }))).toBe('scoredTree.value');
  });
});

describe('validators name the bad field', () => {
  test('problem', () => {
    const p = { id: 'p1', question: 'q', answer: '5', source: 'embedded/arith-v1' };
    expect(validateProblem(p)).toBe(p);
    expect(fieldOf(() => validateProblem({ ...p, id: 3 }))).toBe('problem.id');
    expect(fieldOf(() => validateProblem({ question: 'q', answer: '5', source: 's' }))).toBe('problem.id');
    expect(fieldOf(() => validateProblem({ ...p, extra: 1 }))).toBe('problem.extra');
    expect(validateProblem({ ...p, schema: 'stepwise.problem@1' }).id).toBe('p1');
    expect(fieldOf(() => validateProblem({ ...p, schema: 'stepwise.problem@2' }))).toBe('problem.schema');
    expect(fieldOf(() => validateProblem({ ...p, solutionSteps: ['a', 2] }))).toBe('problem.solutionSteps[1]');
  });

  test('tree shape rules beyond the schema', () => {
    const t = sample();
    expect(fieldOf(() => validateTree({ ...t, parent: [-1, 0, 0, 1, 1, 7] }))).toBe('tree.parent[5]');
    expect(fieldOf(() => validateTree({ ...t, depth: [0, 1, 1, 2, 2, 3] }))).toBe('tree.depth[5]');
    expect(fieldOf(() => validateTree({ ...t, text: ['', 'a'] }))).toBe('tree.text');
    expect(fieldOf(() => validateTree({ ...t, answer: [null, '1', null, '5', '6', null] }))).toBe('tree.answer[1]');
    expect(fieldOf(() => validateTree({ ...t, schema: 'stepwise.tree@2' }))).toBe('tree.schema');
    expect(fieldOf(() => validateTree({ ...t, logprobSum: [0, 0.5, 0, 0, 0, 0] }))).toBe('tree.logprobSum[1]');
    expect(fieldOf(() => validateTree({ ...t, stats: { q: [1] } }))).toBe('tree.stats.q');
    expect(fieldOf(() => validateTree({ ...t, terminal: [false, true, false, true, true, false] }))).toBe('tree.parent[3]');
  });

  test('steps and pairs', () => {
    expect(fieldOf(() => validateStep({ text: 'a', tokenIds: [1, 2], tokenLogprobs: [-1] }))).toBe('step.tokenLogprobs');
    const pair = { schema: 'stepwise.step-pair@1', problemId: 'p', prompt: 'q', prefixSteps: [], chosen: 'a', rejected: 'b', chosenValue: 0.9, rejectedValue: null, rule: 'sppd-siblings' };
    expect(validateStepPair(pair)).toBe(pair);
    expect(fieldOf(() => validateStepPair({ ...pair, chosenValue: Number.POSITIVE_INFINITY }))).toBe('stepPair.chosenValue');
    const seq = { schema: 'stepwise.sequence-pair@1', problemId: 'p', prompt: 'q', chosenSteps: ['a', 'b'], rejectedSteps: ['c'], chosenStepRewards: [1, 0.5], rejectedStepRewards: [], rule: 'dpo' };
    expect(validateSequencePair(seq)).toBe(seq);
    expect(fieldOf(() => validateSequencePair({ ...seq, chosenStepRewards: [1] }))).toBe('sequencePair.chosenStepRewards');
  });

  test('schemas are versioned plain JSON', () => {
    for (const s of [problemSchema, treeSchema, manifestSchema]) {
      expect(s.$id).toMatch(/^stepwise\.[a-z-]+@\d+$/);
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    }
  });
});
