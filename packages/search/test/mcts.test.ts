import { describe, expect, it } from 'vitest';

import { ScriptedPolicy, SearchConfigError, mcts, qWalk, type StateValue } from '../src/index.js';
import { judge, problem, step } from './fixtures.js';

// root ─ A (prior e^-0.1) ─ "42" (correct), "41" (wrong)
//      └ B (prior e^-0.2) ─ "40" (wrong),   "39" (wrong)
const policy = () =>
  ScriptedPolicy.fromTable({
    '': [step('A', [-0.1]), step('B', [-0.2])],
    A: [step('The answer is 42', [-0.3], true), step('The answer is 41', [-0.3], true)],
    B: [step('The answer is 40', [-0.3], true), step('The answer is 39', [-0.3], true)],
  });
const values: Record<string, number> = { '': 0, A: 0.8, B: -0.8 };
const valueHead: StateValue = { value: async (_p, steps) => values[steps.join('\n')] };

describe('MCTS (PUCT, value head, terminal ±1, undiscounted backup)', () => {
  it('pins visit counts and Q values after two iterations', async () => {
    const { tree } = await mcts(problem, policy(), judge, valueHead, { iterations: 2, width: 2, cPuct: 1.5 });
    const { visits, q, prior } = tree.stats!;
    // it 0: expand root, v(root) = 0. it 1: PUCT picks A (larger prior); v(A) = 0.8; then +1 and −1 for A's children.
    expect(visits).toEqual([4, 3, 0, 1, 1]);
    expect(q[1]).toBeCloseTo((0.8 + 1 - 1) / 3, 12);
    expect(q[0]).toBeCloseTo(0.8 / 4, 12);
    expect(q[3]).toBe(1);
    expect(q[4]).toBe(-1);
    expect(prior[1]).toBeCloseTo(Math.exp(-0.1), 12);
  });

  it('explores B next (unvisited bonus), then stops when every leaf is terminal, and the Q-walk finds the correct branch', async () => {
    const r = await mcts(problem, policy(), judge, valueHead, { iterations: 40, width: 2, cPuct: 1.5 });
    expect(r.iterationsRun).toBe(3);
    const { visits, q } = r.tree.stats!;
    expect(visits.slice(0, 3)).toEqual([7, 3, 3]);
    expect(q[2]).toBeCloseTo((-0.8 - 1 - 1) / 3, 12);
    const path = qWalk(r.tree);
    expect(path.map((i) => r.tree.text[i])).toEqual(['A', 'The answer is 42']);
  });

  it('evaluates leaves by rollouts when asked, and needs a value head otherwise', async () => {
    const r = await mcts(problem, policy(), judge, null, { iterations: 3, width: 2, leafEvaluation: 'rollout', seed: 5 });
    expect(r.tree.stats!.visits[0]).toBeGreaterThan(0);
    await expect(mcts(problem, policy(), judge, null, {})).rejects.toThrow(SearchConfigError);
    const bad: StateValue = { value: async () => 3 };
    await expect(mcts(problem, policy(), judge, bad, { width: 2 })).rejects.toThrow(/\[-1, 1\]/);
  });
});
