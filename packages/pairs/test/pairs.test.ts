import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  InvalidTreeError,
  PairConfigError,
  TreeView,
  dedupPairs,
  firstErrorPairs,
  outcomePairs,
  qValuePairs,
  sentenceLevelPair,
  tauPlus,
  sphereRoute,
  sppdSiblingPairs,
  topBottomPairs,
} from '../src/index.js';
import { buildTree, problem, type NodeSpec } from './fixtures.js';

// root ─ A (0.9) ─ A1 (0.95, correct)
//      │         └ A2 (0.3, wrong)
//      └ B (0.2) ─ B1 (0.1, wrong)
const prmTree = buildTree([
  { text: 'A', value: 0.9, children: [{ text: 'A1', value: 0.95, correct: true }, { text: 'A2', value: 0.3, correct: false }] },
  { text: 'B', value: 0.2, children: [{ text: 'B1', value: 0.1, correct: false }] },
]);

describe('SPPD sibling pairs', () => {
  it('pairs siblings whose values differ by more than 0.5, higher value wins, largest gap first', () => {
    const pairs = sppdSiblingPairs(new TreeView(prmTree), problem);
    expect(pairs.map((p) => [p.prefixSteps, p.chosen, p.rejected])).toEqual([
      [[], 'A', 'B'],
      [['A'], 'A1', 'A2'],
    ]);
    expect(pairs[0].chosenValue).toBe(0.9);
    expect(pairs[0].rejectedValue).toBe(0.2);
    expect(pairs[0].prompt).toBe(problem.question);
  });

  it('drops a pair whose gap is not above the threshold (methods §12.2b: 0.9 vs 0.5 is dropped)', () => {
    const t = buildTree([{ text: 'x', value: 0.9, correct: true }, { text: 'y', value: 0.5, correct: false }]);
    expect(sppdSiblingPairs(new TreeView(t), problem)).toEqual([]);
    const kept = buildTree([{ text: 'x', value: 0.934, correct: true }, { text: 'y', value: 0.258, correct: false }]);
    expect(sppdSiblingPairs(new TreeView(kept), problem)).toHaveLength(1);
  });

  it('respects a custom threshold and the per-problem cap', () => {
    const view = new TreeView(prmTree);
    expect(sppdSiblingPairs(view, problem, { threshold: 0.68 }).map((p) => p.chosen)).toEqual(['A']);
    expect(sppdSiblingPairs(view, problem, { maxPerProblem: 1 })).toHaveLength(1);
    expect(() => sppdSiblingPairs(view, problem, { threshold: Number.NaN })).toThrow(PairConfigError);
  });

  it('on random trees every pair is a sibling pair with a gap above the threshold', () => {
    // Depth-bounded random trees (up to 3 levels, up to 3 children per node), values possibly missing.
    const nodeArb = (depth: number): fc.Arbitrary<NodeSpec> =>
      fc.record({
        text: fc.string({ minLength: 1, maxLength: 3 }),
        value: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
        children: depth === 0 ? fc.constant([]) : fc.array(nodeArb(depth - 1), { maxLength: 3 }),
      });
    fc.assert(
      fc.property(fc.array(nodeArb(2), { minLength: 1, maxLength: 4 }), fc.double({ min: 0, max: 0.9, noNaN: true }), (roots, threshold) => {
        const view = new TreeView(buildTree(roots));
        for (const p of sppdSiblingPairs(view, problem, { threshold })) {
          expect(p.chosenValue! - p.rejectedValue!).toBeGreaterThan(threshold);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('sentence-level pair (τ⁺, τ⁻)', () => {
  it('picks the correct path with the strongest weakest step and the wrong path with the weakest', () => {
    const pair = sentenceLevelPair(problem, new TreeView(prmTree).solutions());
    expect(pair?.chosenSteps).toEqual(['A', 'A1']);
    expect(pair?.rejectedSteps).toEqual(['B', 'B1']);
    expect(pair?.chosenStepRewards).toEqual([0.9, 0.95]);
  });

  it('returns null when there is no correct or no wrong solution', () => {
    const allWrong = buildTree([{ text: 'x', value: 0.2, correct: false }, { text: 'y', value: 0.4, correct: false }]);
    expect(sentenceLevelPair(problem, new TreeView(allWrong).solutions())).toBeNull();
  });

  it('τ⁺ alone exists without a wrong solution, is the pair\'s chosen side otherwise, and is null with no correct one', () => {
    const allRight = buildTree([{ text: 'x', value: 0.3, correct: true }, { text: 'y', value: 0.7, correct: true }]);
    expect(tauPlus(new TreeView(allRight).solutions())?.steps).toEqual(['y']);
    expect(tauPlus(new TreeView(prmTree).solutions())?.steps).toEqual(sentenceLevelPair(problem, new TreeView(prmTree).solutions())?.chosenSteps);
    const allWrong = buildTree([{ text: 'x', value: 0.2, correct: false }]);
    expect(tauPlus(new TreeView(allWrong).solutions())).toBeNull();
  });
});

describe('Full-Step-DPO top/bottom-T', () => {
  it('forms T×T correct ≻ incorrect pairs ranked by mean step value', () => {
    const sols = new TreeView(prmTree).solutions();
    const one = topBottomPairs(problem, sols, { t: 1 });
    expect(one.map((p) => p.rejectedSteps)).toEqual([['B', 'B1']]);
    const all = topBottomPairs(problem, sols, { t: 4 });
    expect(all).toHaveLength(2); // 1 correct × 2 wrong
    expect(() => topBottomPairs(problem, sols, { t: 0 })).toThrow(PairConfigError);
  });
});

describe('Step-DPO first-error pairs', () => {
  // Oracle values: 1 = the state is still correct, 0 = a wrong step happened.
  const oracle = buildTree([
    { text: 'A', value: 1, children: [{ text: 'A1', value: 1, correct: true }, { text: 'A2', value: 0, correct: false }] },
    { text: 'B', value: 0, children: [{ text: 'B1', value: 0, correct: false }] },
  ]);

  it('rejects each first wrong step and prefers a right sibling that reaches a correct answer', () => {
    const pairs = firstErrorPairs(new TreeView(oracle), problem);
    expect(pairs.map((p) => [p.prefixSteps, p.chosen, p.rejected])).toEqual([
      [[], 'A', 'B'],
      [['A'], 'A1', 'A2'],
    ]);
  });

  it('never pairs below an already wrong state', () => {
    const pairs = firstErrorPairs(new TreeView(oracle), problem);
    expect(pairs.some((p) => p.prefixSteps[0] === 'B')).toBe(false);
  });
});

describe('SVPO Q-value pairs', () => {
  const mcts = buildTree([
    { text: 'a', value: null, q: 0.6, visits: 5 },
    { text: 'b', value: null, q: -0.4, visits: 3 },
    { text: 'c', value: null, q: 0.1, visits: 2 },
    { text: 'd', value: null, q: 0.9, visits: 0 },
  ]);

  it('pairs visited siblings by Q, largest gap first, capped per node, skipping unvisited children', () => {
    // gaps: a−b = 1.0, a−c = 0.5, c−b = 0.5 (ties keep generation order); d is unvisited
    const pairs = qValuePairs(new TreeView(mcts), problem, { capPerNode: 2 });
    expect(pairs.map((p) => [p.chosen, p.rejected])).toEqual([
      ['a', 'b'],
      ['a', 'c'],
    ]);
    expect(qValuePairs(new TreeView(mcts), problem, { capPerNode: 10 })).toHaveLength(3);
    expect(pairs[0].chosenValue).toBe(0.6);
    expect(pairs[0].rejectedValue).toBe(-0.4);
  });

  it('can require the winner above zero and the loser below', () => {
    const pairs = qValuePairs(new TreeView(mcts), problem, { requireSignSplit: true, capPerNode: 10 });
    expect(pairs.map((p) => [p.chosen, p.rejected])).toEqual([
      ['a', 'b'],
      ['c', 'b'],
    ]);
    expect(qValuePairs(new TreeView(mcts), problem, { minGap: 0.6, capPerNode: 10 }).map((p) => p.chosen)).toEqual(['a']);
  });

  it('explains what is missing when the tree has no MCTS statistics', () => {
    const plain = { ...mcts, stats: undefined };
    expect(() => qValuePairs(new TreeView(plain), problem)).toThrow(/'q' and 'visits'/);
  });
});

describe('SPHERE routing and outcome pairs', () => {
  const sols = new TreeView(prmTree).solutions();
  const [good, badA, badB] = sols;

  it('routes (correct, wrong) to a pair, (wrong, wrong) to self-correction, (correct, correct) to the small model', () => {
    const r1 = sphereRoute(problem, good, badA);
    expect(r1.route).toBe('pair');
    expect(r1.route === 'pair' && r1.pair.chosenSteps).toEqual(['A', 'A1']);
    const r2 = sphereRoute(problem, badA, good);
    expect(r2.route === 'pair' && r2.pair.chosenSteps).toEqual(['A', 'A1']);
    expect(sphereRoute(problem, badA, badB).route).toBe('self-correction');
    expect(sphereRoute(problem, good, good).route).toBe('small-model');
  });

  it('makes outcome pairs correct ≻ incorrect, capped', () => {
    expect(outcomePairs(problem, sols)).toHaveLength(1);
    expect(outcomePairs(problem, sols, { maxPerProblem: 5 })).toHaveLength(1); // only one correct solution
  });
});

describe('dedup and tree validation', () => {
  it('removes duplicates and identical-sides pairs, then caps per problem', () => {
    const pairs = sppdSiblingPairs(new TreeView(prmTree), problem);
    const same = { ...pairs[0], rejected: pairs[0].chosen };
    expect(dedupPairs([...pairs, ...pairs, same])).toHaveLength(2);
    expect(dedupPairs([...pairs, ...pairs], 1)).toHaveLength(1);
  });

  it('rejects malformed trees with the field that is wrong', () => {
    const bad = { ...prmTree, parent: [-1, 3, 0, 1, 1, 2] };
    expect(() => new TreeView(bad)).toThrow(InvalidTreeError);
    expect(() => new TreeView(bad)).toThrow(/tree\.parent\[1\]/);
    const short = { ...prmTree, value: [null] };
    expect(() => new TreeView(short)).toThrow(/tree\.value/);
  });
});
