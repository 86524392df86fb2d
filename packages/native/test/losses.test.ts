// Reward weighting and the DPO margin kernel vs the float64 references, plus methods.md §12 to 1e-6.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { dpoMargin, reference as ref, rewardWeights, rewardWeightsBackward } from '../src/index.js';
import { maxAbsDiff, rng, seedArb, uniform } from './helpers.js';

const base = { policyChosen: new Float32Array([-10]), refChosen: new Float32Array([-11]), policyRejected: new Float32Array([-12]), refRejected: new Float32Array([-11]) };

describe('methods.md §12 vectors (native)', () => {
  it('12.1 DPO loss 0.598139 and 12.2 SPPD loss 0.959206', () => {
    expect(Math.abs(dpoMargin(base, { beta: 0.1 }).loss[0] - 0.598139)).toBeLessThan(1e-6);
    const sppd = dpoMargin({ ...base, margin: new Float32Array([1 * (0.934 - 0.258)]) }, { beta: 0.1 });
    expect(Math.abs(sppd.loss[0] - 0.959206)).toBeLessThan(1e-6);
    expect(sppd.rewardAccuracy).toBe(1);
    expect(sppd.rewardMargin).toBeCloseTo(0.2, 6);
  });

  it('12.3 / 12.3b token weights softmax(±0.5·r) in one ragged call (chosen then rejected)', () => {
    const r = [0.9, 0.9, 0.2, 0.2, 0.2];
    const { weights } = rewardWeights({ rewards: new Float32Array([...r, ...r]), offsets: [0, 5, 10], scale: new Float32Array([0.5, -0.5]) });
    const want = [0.243069, 0.243069, 0.171288, 0.171288, 0.171288, 0.159816, 0.159816, 0.226789, 0.226789, 0.226789];
    expect(maxAbsDiff(weights, want)).toBeLessThan(1e-6);
  });

  it('12.3c at initialisation: the Full-Step-DPO winner token gradient is −0.25·α⁺', () => {
    // π_θ = π_ref: c_ij = σ(0) = 0.5 and τ = 0.5; dpoMargin's dloss/dpc = −β·σ(−z) gives c = −grad/β.
    const init = { policyChosen: new Float32Array([-7]), refChosen: new Float32Array([-7]), policyRejected: new Float32Array([-9]), refRejected: new Float32Array([-9]) };
    const beta = 0.05;
    const c = -dpoMargin(init, { beta }).gradChosen![0] / beta;
    expect(c).toBeCloseTo(0.5, 7);
    const { weights } = rewardWeights({ rewards: new Float32Array([0.9, 0.9, 0.2, 0.2, 0.2]), offsets: [0, 5], scale: 0.5 });
    const tau = 0.5;
    const tokenGrad = Array.from(weights, (a) => -c * tau * a);
    expect(maxAbsDiff(tokenGrad, [0.243069, 0.243069, 0.171288, 0.171288, 0.171288].map((a) => -0.25 * a))).toBeLessThan(1e-6);
  });
});

describe('rewardWeights vs the reference', () => {
  const segs = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 30 });

  it('property: ragged segments (empty, single, long), per-segment scales, forward and backward', () => {
    fc.assert(
      fc.property(segs, fc.constantFrom(0.5, 5, 50), seedArb, (lens, gamma, seed) => {
        const r = rng(seed);
        const offsets = [0];
        for (const l of lens) offsets.push(offsets[offsets.length - 1] + l);
        const total = offsets[offsets.length - 1];
        const rewards = uniform(r, total, 0, 1);
        const scale = Float32Array.from(lens, () => (r() < 0.5 ? gamma : -gamma));
        const { weights } = rewardWeights({ rewards, offsets, scale });
        const want = ref.rewardWeightsRef({ rewards, offsets, scale });
        expect(maxAbsDiff(weights, want)).toBeLessThan(1e-6);
        const gradWeights = uniform(r, total, -1, 1);
        const { gradRewards } = rewardWeightsBackward({ weights, gradWeights, offsets: BigInt64Array.from(offsets.map(BigInt)), scale });
        const wantG = ref.rewardWeightsBackwardRef({ weights, gradWeights, offsets, scale });
        expect(maxAbsDiff(gradRewards, wantG)).toBeLessThan(1e-6 * (1 + gamma));
      }),
      { numRuns: 150 },
    );
  });

  it('a large batch (4096 segments × 64 steps) matches', () => {
    const r = rng(31);
    const offsets = Int32Array.from({ length: 4097 }, (_, i) => i * 64);
    const rewards = uniform(r, 4096 * 64, 0, 1);
    const { weights } = rewardWeights({ rewards, offsets, scale: 0.5 });
    expect(maxAbsDiff(weights, ref.rewardWeightsRef({ rewards, offsets, scale: new Float64Array(4096).fill(0.5) }))).toBeLessThan(1e-7);
  });
});

describe('dpoMargin vs the reference', () => {
  it('property: sigmoid (margins, label smoothing) and IPO, grads and reductions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom<'sigmoid' | 'ipo'>('sigmoid', 'ipo'),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        seedArb,
        (p, lossType, beta, labelSmoothing, withMargin, seed) => {
          const r = rng(seed);
          const mk = () => uniform(r, p, -400, -1);
          const input = { policyChosen: mk(), policyRejected: mk(), refChosen: mk(), refRejected: mk(), margin: withMargin ? uniform(r, p, 0, 5) : undefined };
          const gradScale = p > 0 ? 1 / p : 1;
          const got = dpoMargin(input, { beta, labelSmoothing, lossType, gradScale });
          const want = ref.dpoMarginRef({ ...input, beta, labelSmoothing, lossType, gradScale });
          for (let i = 0; i < p; i++) {
            const tol = 2e-6 * (1 + Math.abs(want.loss[i]));
            if (!(Math.abs(got.loss[i] - want.loss[i]) <= tol)) expect.fail(`loss[${i}] ${got.loss[i]} vs ${want.loss[i]}`);
            expect(Math.abs(got.gradChosen![i] - want.gradChosen[i])).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.gradChosen[i])));
            expect(got.gradRejected![i]).toBe(-got.gradChosen![i]);
          }
          expect(Math.abs(got.meanLoss - want.meanLoss)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.meanLoss)));
          expect(got.rewardAccuracy).toBeCloseTo(want.rewardAccuracy, 9);
          expect(got.chosenReward).toBeCloseTo(want.chosenReward, 4);
          expect(got.rejectedReward).toBeCloseTo(want.rejectedReward, 4);
          expect(got.rewardMargin).toBeCloseTo(want.rewardMargin, 4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('extreme margins stay finite (log σ via min/log1p) and grads can be skipped', () => {
    const p = 3;
    const input = { policyChosen: new Float32Array([-1, -5000, -3]), policyRejected: new Float32Array([-5000, -1, -3]), refChosen: new Float32Array(p).fill(-2), refRejected: new Float32Array(p).fill(-2) };
    const got = dpoMargin(input, { beta: 1, grads: false });
    expect(got.gradChosen).toBeUndefined();
    expect(Array.from(got.loss).every(Number.isFinite)).toBe(true);
    expect(got.loss[1]).toBeCloseTo(4999, 2);
    expect(got.loss[0]).toBeCloseTo(0, 6);
  });
});
