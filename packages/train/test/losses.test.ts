import { describe, expect, it } from 'vitest';
import { ArgumentError } from '@stepwise/core';
import {
  dpoLoss,
  fixedMarginDpoLoss,
  fullStepDpoLoss,
  ipoLoss,
  referenceKernels,
  sftLoss,
  sppdLoss,
  stepDpoLoss,
  svpoLoss,
} from '../src/index.js';
import { centralDiff, numbers, randomSums } from './helpers.js';

const ref = { kernels: referenceKernels };

// methods.md §12: log π_θ(a_w) = −10, log π_ref(a_w) = −11, log π_θ(a_l) = −12, log π_ref(a_l) = −11, β = 0.1.
const v12 = { policy: [-10, -12], reference: [-11, -11] };

describe('methods.md §12 reference vectors (native kernels)', () => {
  it('12.1 Step-DPO / DPO: −log σ(0.2) = 0.598139', () => {
    expect(dpoLoss(v12).loss).toBeCloseTo(0.598139, 6);
    expect(stepDpoLoss(v12, { beta: 0.1 }).loss).toBeCloseTo(0.598139, 6);
    // and the gradient −β·σ(−0.2) on the chosen sum, opposite on the rejected one
    const g = dpoLoss(v12).gradStep!;
    expect(g[0]).toBeCloseTo(-0.1 / (1 + Math.exp(0.2)), 6);
    expect(g[1]).toBeCloseTo(0.1 / (1 + Math.exp(0.2)), 6);
  });

  it('12.2 SPPD γ = 1, V_w = 0.934, V_l = 0.258: −log σ(0.2 − 0.676) = 0.959206', () => {
    const r = sppdLoss(v12, [0.934, 0.258], { gamma: 1 });
    expect(r.loss).toBeCloseTo(0.959206, 6);
    expect(r.metrics.meanMargin).toBeCloseTo(0.676, 6);
    expect(fixedMarginDpoLoss(v12, { margin: 0.676 }).loss).toBeCloseTo(0.959206, 6);
  });

  // 12.3/12.3b/12.3c in one batch: the same 5-token response (steps of 2 and 3 tokens, rewards 0.9 and 0.2)
  // is the winner (sequence 0) and the loser (sequence 1), at initialisation (π_θ = π_ref, non-zero values).
  const alphaPlus = [0.243069, 0.243069, 0.171288, 0.171288, 0.171288];
  const alphaMinus = [0.159816, 0.159816, 0.226789, 0.226789, 0.226789];
  const lp = [-0.7, -1.3, -2.1, -0.4, -3.2];
  const batch = {
    tokenLogps: [-5, ...lp, ...lp],
    refTokenLogps: [-5, ...lp, ...lp],
    tokenRewards: [0, 0.9, 0.9, 0.2, 0.2, 0.2, 0.9, 0.9, 0.2, 0.2, 0.2],
    mask: [-1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1],
    seqOffsets: [0, 6, 11],
  };

  it('12.3 / 12.3b weights and 12.3c gradient = −0.25·(α⁺ on the winner, −α⁻ on the loser) at init', () => {
    const r = fullStepDpoLoss(batch, { gamma: 0.5 });
    const g = r.gradToken!;
    expect(g[0]).toBe(0); // the masked prompt token
    for (let t = 0; t < 5; t++) {
      expect(g[1 + t]).toBeCloseTo(-0.25 * alphaPlus[t], 6);
      expect(g[6 + t]).toBeCloseTo(0.25 * alphaMinus[t], 6);
    }
    // the loss value from exact (unrounded) weights: −c·(Σα⁺τ⁺ℓ − Σα⁻τ⁻ℓ) with c = τ = 0.5
    const w = [0.9, 0.9, 0.2, 0.2, 0.2];
    const soft = (g: number) => w.map((x) => Math.exp(g * x) / w.reduce((a, y) => a + Math.exp(g * y), 0));
    const [ap, am] = [soft(0.5), soft(-0.5)];
    let expected = 0;
    for (let t = 0; t < 5; t++) expected += -0.5 * (0.5 * ap[t] * lp[t] - 0.5 * am[t] * lp[t]);
    expect(r.loss).toBeCloseTo(expected, 6);
  });
});

describe('finite differences (float64 reference kernels)', () => {
  const checkGrad = (f: (x: Float64Array) => number, x0: ArrayLike<number>, grad: ArrayLike<number>, tol = 1e-7) => {
    for (let i = 0; i < x0.length; i++) expect(Math.abs(centralDiff(f, x0, i) - grad[i])).toBeLessThan(tol);
  };

  it('DPO with label smoothing, Step-DPO, fixed margin, SPPD, IPO: gradStep = d loss / d policy sums', () => {
    const s = randomSums(7, 4);
    const values = Float64Array.from({ length: 8 }, (_, i) => 0.1 + 0.1 * i);
    const tokens = [3, 5, 8, 2, 13, 7, 1, 4];
    const cases: [string, (policy: Float64Array) => ReturnType<typeof dpoLoss>][] = [
      ['dpo', (p) => dpoLoss({ policy: p, reference: s.reference }, { ...ref, beta: 0.3, labelSmoothing: 0.1 })],
      ['step-dpo', (p) => stepDpoLoss({ policy: p, reference: s.reference }, ref)],
      ['fixed', (p) => fixedMarginDpoLoss({ policy: p, reference: s.reference }, { ...ref, margin: 0.7 })],
      ['sppd', (p) => sppdLoss({ policy: p, reference: s.reference }, values, { ...ref, gamma: 2 })],
      ['ipo', (p) => ipoLoss({ policy: p, reference: s.reference }, tokens, { ...ref, beta: 0.5 })],
    ];
    for (const [, f] of cases) checkGrad((x) => f(x).loss, s.policy, f(s.policy).gradStep!);
  });

  it('SFT: gradToken = −1/n on labelled tokens', () => {
    const x0 = [-1.5, -0.2, -3.3, -0.9, -2.4];
    const mask = [-1, 0, 0, -1, 1];
    const r = sftLoss({ tokenLogps: x0, mask }, ref);
    expect(r.loss).toBeCloseTo((0.2 + 3.3 + 2.4) / 3, 12);
    checkGrad((x) => sftLoss({ tokenLogps: x, mask }, ref).loss, x0, r.gradToken!);
  });

  it('SVPO: gradStep and gradValue for both ranking kinds (away from the hinge kink)', () => {
    const s = randomSums(11, 3);
    const v0 = [0.6, 0.55, -0.2, 0.4, 0.9, -0.7]; // pair 0 inside the δ margin, pair 1 violated, pair 2 satisfied
    const q = [0.8, -0.3, 0.1, 0.5, 1, -1];
    for (const rankKind of ['hinge', 'logistic'] as const) {
      const o = { ...ref, lambda: 0.7, delta: 0.3, rankKind, mseWeight: 1.5 };
      const r = svpoLoss({ sums: s, values: v0, q }, o);
      checkGrad((v) => svpoLoss({ sums: s, values: v, q }, o).loss, v0, r.gradValue!);
      checkGrad((p) => svpoLoss({ sums: { policy: p, reference: s.reference }, values: v0, q }, o).loss, s.policy, r.gradStep!);
    }
  });

  // An independent, loop-by-loop transcription of methods.md §4.3 (direct softmax, no kernels), with the
  // stop-gradient quantities (τ, c) evaluated at `detachAt` so that its derivative in ℓ is the surrogate's.
  function naiveFullStep(lp: ArrayLike<number>, detachAt: ArrayLike<number>, b: typeof fsBatch, beta: number, gamma: number, kappa: number): number {
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    const tokensOf = (q: number) => Array.from({ length: b.seqOffsets[q + 1] - b.seqOffsets[q] }, (_, k) => b.seqOffsets[q] + k).filter((x) => b.mask[x] >= 0);
    const u = (q: number) => beta * tokensOf(q).reduce((a, x) => a + detachAt[x] - b.refTokenLogps[x], 0);
    const weighted = (q: number, sign: number) => {
      const ts = tokensOf(q);
      const z = ts.reduce((a, x) => a + Math.exp(sign * gamma * b.tokenRewards[x]), 0);
      return ts.reduce((a, x) => a + (Math.exp(sign * gamma * b.tokenRewards[x]) / z) * sig(-sign * kappa * (detachAt[x] - b.refTokenLogps[x])) * lp[x], 0);
    };
    let loss = 0;
    for (const [i, j] of b.pairs) loss += (-sig(u(j) - u(i)) * (weighted(i, 1) - weighted(j, -1))) / b.pairs.length;
    return loss;
  }
  const r = numbers(3);
  const fsBatch = {
    seqOffsets: [0, 7, 12, 20],
    mask: [-1, -1, 0, 0, 1, 1, 1, -1, 0, 1, 1, 2, -1, -1, 0, 0, 0, 1, 1, 1],
    tokenRewards: [0, 0, 0.9, 0.9, 0.3, 0.3, 0.3, 0, 0.7, 0.1, 0.1, 0.05, 0, 0, 0.6, 0.6, 0.6, 0.95, 0.95, 0.95],
    refTokenLogps: Array.from({ length: 20 }, () => r.uniform(-4, -0.1)),
    tokenLogps: Array.from({ length: 20 }, () => r.uniform(-4, -0.1)),
    pairs: [[0, 1], [2, 1], [0, 2]] as [number, number][], // sequence 2 is loser once and winner once
  };

  it('Full-Step-DPO: loss equals the naive §4.3 transcription; gradToken = its derivative with stop-gradients held', () => {
    const o = { ...ref, beta: 0.3, gamma: 1.7, tokenRate: 0.8 };
    const res = fullStepDpoLoss(fsBatch, o);
    expect(res.loss).toBeCloseTo(naiveFullStep(fsBatch.tokenLogps, fsBatch.tokenLogps, fsBatch, 0.3, 1.7, 0.8), 12);
    checkGrad((x) => naiveFullStep(x, fsBatch.tokenLogps, fsBatch, 0.3, 1.7, 0.8), fsBatch.tokenLogps, res.gradToken!);
    // and the native float32 path agrees with the float64 one
    const nat = fullStepDpoLoss(fsBatch, { beta: 0.3, gamma: 1.7, tokenRate: 0.8 });
    expect(nat.loss).toBeCloseTo(res.loss, 5);
    for (let t = 0; t < 20; t++) expect(nat.gradToken![t]).toBeCloseTo(res.gradToken![t], 6);
  });
});

describe('edge cases', () => {
  it('no pairs: loss 0, empty gradients, for every loss', () => {
    const empty = { policy: [], reference: [] };
    for (const r of [dpoLoss(empty), stepDpoLoss(empty), sppdLoss(empty, []), fixedMarginDpoLoss(empty, { margin: 1 }), ipoLoss(empty, []), svpoLoss({ sums: empty, values: [], q: [] })]) {
      expect(r.loss).toBe(0);
      expect(r.gradStep!.length).toBe(0);
    }
    const fs = fullStepDpoLoss({ tokenLogps: [-1.2], refTokenLogps: [-1.1], tokenRewards: [0.5], mask: [-1], seqOffsets: [0, 1], pairs: [] });
    expect(fs.loss).toBe(0);
    expect(Array.from(fs.gradToken!)).toEqual([0]);
    expect(sftLoss({ tokenLogps: [-0.3, -2], mask: [-1, -1] }).loss).toBe(0);
  });

  it('|log-probs| up to 1e4 stays finite (native float32)', () => {
    const big = { policy: [-1e4, -2], reference: [-3, -1e4] };
    for (const r of [dpoLoss(big), sppdLoss(big, [1, 0], { gamma: 5 }), dpoLoss({ policy: [-2, -1e4], reference: [-1e4, -3] })]) {
      expect(Number.isFinite(r.loss)).toBe(true);
      for (const g of r.gradStep!) expect(Number.isFinite(g)).toBe(true);
    }
    // h = (−1e4 + 3) − (−2 + 1e4) = −19995, z = −1999.5: the loss is −z (linear regime), the gradient saturates at β
    const bad = dpoLoss({ policy: [-1e4, -2], reference: [-3, -1e4] }, { beta: 0.1 });
    expect(bad.loss).toBeCloseTo(1999.5, 2);
    expect(bad.gradStep![0]).toBeCloseTo(-0.1, 6);
    const fs = fullStepDpoLoss({ tokenLogps: [-1e4, -3e3, -2, -7e3], refTokenLogps: [-1, -2, -1e4, -5], tokenRewards: [1e4, -1e4, 3, 2], mask: [0, 0, 0, 0], seqOffsets: [0, 2, 4] });
    expect(Number.isFinite(fs.loss)).toBe(true);
    for (const g of fs.gradToken!) expect(Number.isFinite(g)).toBe(true);
  });

  it('masked tokens get exactly zero gradient; zeroRewardIsPadding drops reward-0 tokens from the softmax', () => {
    const b = { tokenLogps: [-1, -2, -0.5, -1.5, -3, -0.25], refTokenLogps: [-1.1, -2.2, -0.4, -1.6, -2.9, -0.2], tokenRewards: [0.8, 0, 0.4, 0.3, 0, 0.9], mask: [-1, 0, 0, -1, 0, 0], seqOffsets: [0, 3, 6] };
    const g = fullStepDpoLoss(b).gradToken!;
    expect(g[0]).toBe(0);
    expect(g[3]).toBe(0);
    expect(g[1]).not.toBe(0);
    const gp = fullStepDpoLoss(b, { zeroRewardIsPadding: true }).gradToken!;
    expect(gp[1]).toBe(0);
    expect(gp[4]).toBe(0);
    expect(gp[2]).not.toBe(0);
  });

  it('typed errors name the argument', () => {
    const bad = (f: () => unknown, arg: string) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ArgumentError);
        expect((e as ArgumentError).argument).toBe(arg);
        return;
      }
      throw new Error(`expected an ArgumentError for ${arg}`);
    };
    bad(() => dpoLoss({ policy: [-1, -2, -3], reference: [-1, -2, -3] }), 'policy');
    bad(() => dpoLoss({ policy: [-1, -2], reference: [-1] }), 'reference');
    bad(() => dpoLoss({ policy: [-1, NaN], reference: [-1, -2] }), 'policy[1]');
    bad(() => dpoLoss(v12, { beta: 0 }), 'options.beta');
    bad(() => dpoLoss(v12, { labelSmoothing: 0.7 }), 'options.labelSmoothing');
    bad(() => sppdLoss(v12, [0.5]), 'values');
    bad(() => sppdLoss(v12, [0.5, 0.1], { gamma: -1 }), 'options.gamma');
    bad(() => ipoLoss(v12, [2, 0]), 'tokens[1]');
    bad(() => svpoLoss({ sums: v12, values: [0.1, 0.2], q: [0.1, 0.2] }, { rankKind: 'square' as 'hinge' }), 'options.rankKind');
    bad(() => sftLoss({ tokenLogps: [-1, -2], mask: [0] }), 'input.mask');
    bad(() => fullStepDpoLoss({ tokenLogps: [-1, -2], refTokenLogps: [-1, -2], tokenRewards: [1, 1], mask: [0, 0], seqOffsets: [0, 1, 2], pairs: [[0, 2]] }), 'input.pairs[0].loser');
    bad(() => fullStepDpoLoss({ tokenLogps: [-1, -2], refTokenLogps: [-1, -2], tokenRewards: [1, 1], mask: [0, 0], seqOffsets: [0, 3] }), 'input.seqOffsets');
    bad(() => dpoLoss({ policy: [-1e39, -1], reference: [-1, -1] }), 'policyChosen');
  });
});
