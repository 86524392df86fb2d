// The losses and batch builder against the real native engine (not a toy model): a step pair is trained with
// Step-DPO until the policy prefers the chosen step, and the reference log-probs come from the initial weights.
import { describe, expect, it } from 'vitest';

import { CharTokenizer, type StepPair } from '@stepwise/core';
import { Model, Optimizer } from '@stepwise/native';

import { buildPairBatch, pairLoss, preferenceStep, refLogpsFromTokens, toForwardBatch } from '../src/index.js';

describe('preference training on the native engine', () => {
  it('Step-DPO starts at log 2 (policy = reference) and learns to prefer the chosen step', async () => {
    const tok = new CharTokenizer();
    const model = Model.create(
      { vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, maxSeqLen: 128 },
      { seed: 11 },
    );
    const pair: StepPair = {
      schema: 'stepwise.step-pair@1',
      problemId: 'p',
      prompt: 'Ann has 2 cups. Ann gets 3. How many?',
      prefixSteps: [],
      chosen: 'Step 1: 2 + 3 = 5',
      rejected: 'Step 1: 2 + 3 = 6',
      chosenValue: 1,
      rejectedValue: 0,
      rule: 'test',
    };
    const batch = buildPairBatch(tok, [pair]);
    const initial = await model.forward(toForwardBatch(batch, 'sequence'));
    const refs = refLogpsFromTokens(batch, initial.tokenLogp, false);
    const opt = new Optimizer(model, { kind: 'adamw', lr: 1e-2 });
    const loss = pairLoss('step-dpo', { beta: 0.4 });
    const losses: number[] = [];
    let last: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      opt.zeroGrad();
      const r = await preferenceStep(model, batch, refs, loss);
      losses.push(r.loss);
      last = r.metrics;
      await opt.step();
    }
    expect(losses[0]).toBeCloseTo(Math.log(2), 5);
    expect(losses.at(-1)!).toBeLessThan(0.3);
    expect(Object.values(last).every(Number.isFinite)).toBe(true);
    opt.dispose();
    model.dispose();
  });
});
