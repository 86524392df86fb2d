import { describe, expect, it } from 'vitest';

import { CharTokenizer } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { testSplit } from '@stepwise/tasks';
import { PrmArgumentError, PrmScorer, buildPrmBatch, encodeSolution, labelIds, heldOutSolutions } from '../src/index.js';

const tok = new CharTokenizer();
const model = Model.create({ vocabSize: tok.vocabSize, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, maxSeqLen: 320 }, { seed: 1, initStd: 1 });

describe('PrmScorer', () => {
  it('returns one value in [0, 1] per step, and [] for no steps', async () => {
    const scorer = new PrmScorer(model);
    expect(scorer.name).toBe('prm:engine');
    const [p] = testSplit(3, 1);
    const steps = p!.solutionSteps!;
    const v = await scorer.score(p!, steps);
    expect(v).toHaveLength(steps.length);
    for (const x of v) expect(x >= 0 && x <= 1).toBe(true);
    expect(new Set(v).size).toBeGreaterThan(1); // a random model with initStd 1 does not give one constant
    expect(await scorer.score(p!, [])).toEqual([]);
  });

  it('is causal (a prefix scores as it does inside the full solution) and batching changes nothing', async () => {
    const scorer = new PrmScorer(model, { maxBatchTokens: 300 });
    const held = heldOutSolutions({ levels: [2], perLevel: 6 });
    const all = await scorer.scoreMany(held);
    for (let i = 0; i < held.length; i++) {
      const h = held[i]!;
      const alone = await scorer.score(h.problem, h.steps.slice(0, 2));
      expect(alone[0]).toBeCloseTo(all[i]![0]!, 5);
      expect(alone[1]).toBeCloseTo(all[i]![1]!, 5);
    }
  });

  it('reads sigmoid(log p(+) - log p(-)) at the step-end rows the training batch targets', async () => {
    const [p] = testSplit(1, 1);
    const steps = p!.solutionSteps!;
    const enc = encodeSolution(tok, p!.question, steps);
    const plan = buildPrmBatch([enc], [steps.map(() => 1)], labelIds(tok), 'bce');
    const out = await model.forward(plan.batch);
    const expected = plan.rowGood[0]!.map((rg, k) => 1 / (1 + Math.exp(-(out.tokenLogp[rg]! - out.tokenLogp[plan.rowBad[0]![k]!]!))));
    const got = await new PrmScorer(model).score(p!, steps);
    got.forEach((g, k) => expect(g).toBeCloseTo(expected[k]!, 5));
  });

  it('rejects a step containing the separator, naming it', async () => {
    const [p] = testSplit(1, 1);
    await expect(new PrmScorer(model).score(p!, ['Step 1: 1 + 1 = 2\nStep 2'])).rejects.toThrow(PrmArgumentError);
    await expect(new PrmScorer(model).score(p!, ['ok', 'a\nb'])).rejects.toThrow(/steps\[1\]/);
  });
});
