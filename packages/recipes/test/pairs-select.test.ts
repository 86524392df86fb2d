import { toScoredTree, type Tree } from '@stepwise/core';
import { TreeView } from '@stepwise/pairs';
import { trainProblem } from '@stepwise/tasks';
import { describe, expect, it } from 'vitest';
import { outcomeTreeValues, RECIPES, selectPairs, validateConfig } from '../src/index.js';

const problem = trainProblem(1, 0, 0);
// root → a (good) → a1 (correct end), a2 (wrong end); root → b (bad) → b1 (wrong end)
const tree: Tree = {
  schema: 'stepwise.tree@1', problemId: problem.id,
  parent: [-1, 0, 1, 1, 0, 4], text: ['', 'a', 'a1', 'a2', 'b', 'b1'], depth: [0, 1, 2, 2, 1, 2],
  terminal: [false, false, true, true, false, true], logprobSum: [0, -1, -1, -1, -1, -1], tokenCount: [0, 1, 2, 2, 1, 2],
  answer: [null, null, '1', '2', null, '3'], correct: [null, null, true, false, null, false],
};
const c = validateConfig(RECIPES.sppd.config('quick'));

describe('pair selection on a scored tree', () => {
  it('outcome values are the mean correctness of the walks through a node', () => {
    expect(outcomeTreeValues(tree)).toEqual([null, 0.5, 1, 0, 0, 0]);
  });

  it('SPPD siblings keep |ΔV| > 0.5 with the higher value chosen; sentence pair is τ⁺ / τ⁻', () => {
    const view = new TreeView(toScoredTree(tree, [null, 0.9, 1, 0.1, 0.2, 0], 'test'));
    const sib = selectPairs(c, 'siblings', view, problem);
    expect(sib.map((p) => p.schema === 'stepwise.step-pair@1' && [p.prefixSteps.join('|'), p.chosen, p.rejected])).toEqual([['a', 'a1', 'a2'], ['', 'a', 'b']]);
    const [sent] = selectPairs(c, 'sentence', view, problem);
    expect(sent.schema === 'stepwise.sequence-pair@1' && [sent.chosenSteps, sent.rejectedSteps]).toEqual([['a', 'a1'], ['b', 'b1']]);
    // A gap of 0.4 is filtered out.
    const close = new TreeView(toScoredTree(tree, [null, 0.6, 0.7, 0.3, 0.2, 0], 'test'));
    expect(selectPairs(c, 'siblings', close, problem)).toHaveLength(0);
  });

  it('SPHERE max/min routes make a pair only when one route is correct and the other is not', () => {
    const view = new TreeView(toScoredTree(tree, [null, 0.9, 1, 0, 0.2, 0], 'test'));
    const [p] = selectPairs(c, 'max-min', view, problem);
    expect(p.schema === 'stepwise.sequence-pair@1' && [p.chosenSteps, p.rejectedSteps]).toEqual([['a', 'a1'], ['b', 'b1']]);
  });
});
