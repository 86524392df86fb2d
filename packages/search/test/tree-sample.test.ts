import { describe, expect, it } from 'vitest';

import { ScriptedPolicy, SearchConfigError, treeSample } from '../src/index.js';
import { judge, problem, step } from './fixtures.js';

describe('SPPD tree self-sampling', () => {
  it('expands a node once with C children and walks the overwhelmingly likely child (exact shape)', async () => {
    const policy = ScriptedPolicy.fromTable({
      '': [step('A', [-0.01]), step('B', [-30])],
      A: [step('The answer is 42', [-0.01], true), step('The answer is 41', [-30], true)],
    });
    const r = await treeSample(problem, policy, judge, { iterations: 3, children: 2, walkers: 1, seed: 1 });
    expect(r.tree.parent).toEqual([-1, 0, 0, 1, 1]);
    expect(r.tree.text).toEqual(['', 'A', 'B', 'The answer is 42', 'The answer is 41']);
    expect(r.tree.terminal).toEqual([false, false, false, true, true]);
    expect(r.tree.correct).toEqual([null, null, null, true, false]);
    expect(r.walkEnds).toEqual([3, 3, 3]);
    expect(r.policyCalls).toBe(2); // root, then A; later walks reuse the tree
    expect(r.tree.stats!.selectionScore[1]).toBeCloseTo(-0.01, 12);
  });

  const binary = () =>
    new ScriptedPolicy((steps) =>
      steps.length < 2
        ? [step(`${steps.length}a`, [-0.5, -0.7]), step(`${steps.length}b`, [-0.6, -0.6])]
        : [step('The answer is 42', [-0.4], true), step('The answer is 7', [-0.4], true)],
    );

  it('is deterministic for a seed and explores a balanced tree fully with enough walks', async () => {
    const a = await treeSample(problem, binary(), judge, { iterations: 64, children: 2, seed: 7 });
    const b = await treeSample(problem, binary(), judge, { iterations: 64, children: 2, seed: 7 });
    expect(a.tree).toEqual(b.tree);
    expect(a.walkEnds).toEqual(b.walkEnds);
    // Depth 3 binary tree: 1 + 2 + 4 + 8 nodes once every internal node is expanded.
    expect(a.tree.parent.length).toBe(15);
    expect(a.tree.terminal.filter(Boolean).length).toBe(8);
    const c = await treeSample(problem, binary(), judge, { iterations: 64, children: 2, seed: 8 });
    expect(c.walkEnds).not.toEqual(a.walkEnds);
  });

  it('batches walkers: fewer policy calls than sequential walks, same kind of tree', async () => {
    const seq = binary();
    const par = binary();
    const s = await treeSample(problem, seq, judge, { iterations: 16, walkers: 1, seed: 3 });
    const p = await treeSample(problem, par, judge, { iterations: 16, walkers: 16, seed: 3 });
    expect(par.calls).toBeLessThan(seq.calls);
    expect(par.calls).toBeLessThanOrEqual(3); // one call per depth
    for (const r of [s, p]) for (const end of r.walkEnds) expect(r.tree.terminal[end]).toBe(true);
  });

  it('forces a node terminal at maxDepth and validates its options', async () => {
    const endless = new ScriptedPolicy(() => [step('more', [-1])]);
    const r = await treeSample(problem, endless, judge, { iterations: 2, children: 1, maxDepth: 4, seed: 0 });
    expect(Math.max(...r.tree.depth)).toBe(4);
    expect(r.tree.terminal[r.tree.terminal.length - 1]).toBe(true);
    expect(r.tree.correct[r.tree.correct.length - 1]).toBe(false);
    await expect(treeSample(problem, endless, judge, { iterations: 0 })).rejects.toThrow(SearchConfigError);
    await expect(treeSample(problem, endless, judge, { selectionTemperature: 0 })).rejects.toThrow(/selectionTemperature/);
  });
});
