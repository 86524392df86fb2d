import { toScoredTree, type Tree } from '@stepwise/core';
import { TreeView } from '@stepwise/pairs';
import { trainProblem } from '@stepwise/tasks';
import { describe, expect, it } from 'vitest';
import { outcomeTreeValues, RECIPES, ROLE, selectPairs, validateConfig } from '../src/index.js';

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

  it('SVPO pairs come from MCTS Q values of visited siblings: minimum gap and cap per node from the config', () => {
    const svpo = validateConfig(RECIPES.svpo.config('quick'));
    // root → a (Q 0.6), b (Q −0.6), u (unvisited, Q 0) ; a → a1 (+1), a2 (−1)
    const mctsTree: Tree = {
      ...structuredClone(tree),
      parent: [-1, 0, 1, 1, 0, 0], text: ['', 'a', 'a1', 'a2', 'b', 'u'], depth: [0, 1, 2, 2, 1, 1],
      terminal: [false, false, true, true, false, false], logprobSum: [0, -1, -1, -1, -1, -1], tokenCount: [0, 1, 2, 2, 1, 1],
      answer: [null, null, '1', '2', null, null], correct: [null, null, true, false, null, null],
      stats: { q: [0, 0.6, 1, -1, -0.6, 0], visits: [5, 3, 1, 1, 2, 0] },
    };
    const view = new TreeView(toScoredTree(mctsTree, mctsTree.parent.map((_, i) => (i === 0 ? null : (mctsTree.stats!.q[i] + 1) / 2)), 'mcts-q'));
    const pairs = selectPairs(svpo, 'q-value', view, problem);
    // gap 1.2 (a ≻ b) and gap 2 (a1 ≻ a2) both exceed qMinGap 1; the unvisited child u is never paired.
    expect(pairs.map((p) => p.schema === 'stepwise.step-pair@1' && [p.prefixSteps.join('|'), p.chosen, p.rejected, p.chosenValue, p.rejectedValue])).toEqual([
      ['', 'a', 'b', 0.6, -0.6],
      ['a', 'a1', 'a2', 1, -1],
    ]);
    // A larger minimum gap keeps only the terminal pair.
    expect(selectPairs({ ...svpo, pairs: { ...svpo.pairs, qMinGap: 1.5 } }, 'q-value', view, problem)).toHaveLength(1);
  });

  describe('SPHERE routes through the pruned-search chains', () => {
    const sphere = validateConfig(RECIPES.sphere.config('quick'));
    // One chain per search under the root: [steps, correct, role].
    const chains = (...cs: [string[], boolean, number][]) => {
      const t: Tree = { schema: 'stepwise.tree@1', problemId: problem.id, parent: [-1], text: [''], depth: [0], terminal: [false], logprobSum: [0], tokenCount: [0], answer: [null], correct: [null], stats: { role: [0], value: [0] } };
      for (const [steps, correct, role] of cs) {
        let parent = 0;
        steps.forEach((text, i) => {
          const last = i === steps.length - 1;
          t.parent.push(parent); t.text.push(text); t.depth.push(i + 1); t.terminal.push(last); t.logprobSum.push(-1); t.tokenCount.push(1);
          t.answer.push(last ? (correct ? problem.answer : 'x') : null); t.correct.push(last ? correct : null);
          t.stats!.role.push(role); t.stats!.value.push(correct ? 1 : 0);
          parent = t.parent.length - 1;
        });
      }
      return new TreeView(toScoredTree(t, t.parent.map((_, i) => (i === 0 ? null : t.stats!.value[i])), 'pruned'));
    };
    const pairsOf = (view: TreeView) => selectPairs(sphere, 'max-min', view, problem).map((p) => p.schema === 'stepwise.sequence-pair@1' && [p.chosenSteps.join('|'), p.rejectedSteps.join('|')]);

    it('(correct, wrong) → Sol_max ≻ Sol_min, and a wrong max with a correct min is a pair the other way', () => {
      expect(pairsOf(chains([['m1', 'm2'], true, ROLE.max], [['n1'], false, ROLE.min]))).toEqual([['m1|m2', 'n1']]);
      expect(pairsOf(chains([['m1'], false, ROLE.max], [['n1'], true, ROLE.min]))).toEqual([['n1', 'm1']]);
    });

    it('(wrong, wrong) → the correct self-correction is preferred to both; a failed correction gives none', () => {
      expect(pairsOf(chains([['m'], false, ROLE.max], [['n'], false, ROLE.min], [['c'], true, ROLE.correction]))).toEqual([['c', 'm'], ['c', 'n']]);
      expect(pairsOf(chains([['m'], false, ROLE.max], [['n'], false, ROLE.min], [['c'], false, ROLE.correction]))).toEqual([]);
    });

    it('(correct, correct) → Sol_max ≻ the weak policy\'s wrong solution; none when the weak policy was right', () => {
      expect(pairsOf(chains([['m'], true, ROLE.max], [['n'], true, ROLE.min], [['w'], false, ROLE.weak]))).toEqual([['m', 'w']]);
      expect(pairsOf(chains([['m'], true, ROLE.max], [['n'], true, ROLE.min], [['w'], true, ROLE.weak]))).toEqual([]);
    });
  });
});
