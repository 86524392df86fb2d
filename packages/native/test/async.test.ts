// The …Async functions run off the event loop (AsyncWorker on the libuv pool) and give the sync results.
import { describe, expect, it } from 'vitest';

import {
  dpoMarginAsync,
  dpoMargin,
  rewardWeights,
  rewardWeightsAsync,
  rewardWeightsBackward,
  rewardWeightsBackwardAsync,
  stepLogprob,
  stepLogprobAsync,
  stepLogprobBackward,
  stepLogprobBackwardAsync,
  stepLogprobFromHidden,
  stepLogprobFromHiddenAsync,
  stepLogprobFromHiddenBackward,
  stepLogprobFromHiddenBackwardAsync,
} from '../src/index.js';
import { rng, sameBytes, ticksDuring, tokenBatch, uniform } from './helpers.js';

describe('async calls leave the event loop free', () => {
  const r = rng(2024);
  const [n, d, v] = [384, 256, 8192];
  const b = tokenBatch(r, n, v, 12);
  const hidden = uniform(r, n * d, -1, 1);
  const weight = uniform(r, v * d, -0.2, 0.2);
  const input = { hidden, weight, hiddenSize: d, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 12 };

  it('a timer keeps ticking during a long async hidden-state backward, and not during the sync one', async () => {
    const { lse } = stepLogprobFromHidden(input);
    const gradStep = uniform(r, 12, -1, 1);
    const sync = await ticksDuring(() => stepLogprobFromHiddenBackward({ ...input, lse, gradStep }));
    const asyncRun = await ticksDuring(() => stepLogprobFromHiddenBackwardAsync({ ...input, lse, gradStep }));
    console.log(`sync ${sync.ms.toFixed(0)} ms: ${sync.ticks} ticks; async ${asyncRun.ms.toFixed(0)} ms: ${asyncRun.ticks} ticks`);
    expect(sync.ticks).toBe(0); // shows the measurement can fail: a blocking call gets no ticks
    expect(asyncRun.ticks).toBeGreaterThanOrEqual(Math.min(5, Math.floor(asyncRun.ms / 10)));
    expect(asyncRun.ticks).toBeGreaterThan(0);
    expect(sameBytes(asyncRun.value.dhidden!, sync.value.dhidden!)).toBe(true);
    expect(sameBytes(asyncRun.value.dweight!, sync.value.dweight!)).toBe(true);
  });

  it('every …Async gives exactly the sync result, also with several calls in flight', async () => {
    const n2 = 50;
    const v2 = 3000;
    const b2 = tokenBatch(r, n2, v2, 5);
    const logits = uniform(r, n2 * v2, -6, 6);
    const base = { logits, vocabSize: v2, targets: b2.targets, stepIndex: b2.stepIndex, numSteps: 5 };
    const gradToken = uniform(r, n2, -1, 1);
    const fwd = stepLogprob(base, { entropy: true, argmaxHit: true });
    const rewards = uniform(r, 40, 0, 1);
    const offsets = [0, 10, 10, 25, 40];
    const scale = new Float32Array([0.5, -0.5, 2, -2]);
    const p = uniform(r, 64, -50, -1);
    const dpoIn = { policyChosen: p, policyRejected: uniform(r, 64, -50, -1), refChosen: uniform(r, 64, -50, -1), refRejected: uniform(r, 64, -50, -1) };
    const w = rewardWeights({ rewards, offsets, scale }).weights;
    const gw = uniform(r, 40, -1, 1);

    const [aFwd, aBwd, aHid, aRw, aRwB, aDpo] = await Promise.all([
      stepLogprobAsync(base, { entropy: true, argmaxHit: true }),
      stepLogprobBackwardAsync({ ...base, lse: fwd.lse, gradToken }),
      stepLogprobFromHiddenAsync(input),
      rewardWeightsAsync({ rewards, offsets, scale }),
      rewardWeightsBackwardAsync({ weights: w, gradWeights: gw, offsets, scale }),
      dpoMarginAsync(dpoIn, { beta: 0.2, labelSmoothing: 0.1 }),
    ]);
    expect(aFwd).toEqual(fwd);
    expect(sameBytes(aBwd.dlogits, stepLogprobBackward({ ...base, lse: fwd.lse, gradToken }).dlogits)).toBe(true);
    expect(aHid).toEqual(stepLogprobFromHidden(input));
    expect(aRw).toEqual(rewardWeights({ rewards, offsets, scale }));
    expect(aRwB).toEqual(rewardWeightsBackward({ weights: w, gradWeights: gw, offsets, scale }));
    expect(aDpo).toEqual(dpoMargin(dpoIn, { beta: 0.2, labelSmoothing: 0.1 }));
  });
});
