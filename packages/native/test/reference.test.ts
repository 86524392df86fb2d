// The float64 references are the oracle for every native test, so they are checked first on their own:
// methods.md §12 hand-computed vectors, finite differences of every backward, and the naive log-softmax path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { reference as ref } from '../src/index.js';
import { centralDiff, rng, seedArb, tokenBatch } from './helpers.js';

describe('methods.md §12 vectors (reference)', () => {
  const pairs = { policyChosen: [-10], refChosen: [-11], policyRejected: [-12], refRejected: [-11] };

  it('12.1 Step-DPO / DPO: −log σ(0.2) = 0.598139', () => {
    expect(ref.dpoMarginRef({ ...pairs, beta: 0.1 }).loss[0]).toBeCloseTo(0.598139, 6);
  });

  it('12.2 SPPD margin γ(V_w − V_l) = 0.676: −log σ(0.2 − 0.676) = 0.959206', () => {
    const out = ref.dpoMarginRef({ ...pairs, beta: 0.1, margin: [1 * (0.934 - 0.258)] });
    expect(out.loss[0]).toBeCloseTo(0.959206, 6);
  });

  it('12.3 / 12.3b Full-Step-DPO token weights softmax(±0.5·r)', () => {
    const rewards = [0.9, 0.9, 0.2, 0.2, 0.2];
    const plus = ref.rewardWeightsRef({ rewards, offsets: [0, 5], scale: [0.5] });
    const minus = ref.rewardWeightsRef({ rewards, offsets: [0, 5], scale: [-0.5] });
    [0.243069, 0.243069, 0.171288, 0.171288, 0.171288].forEach((w, i) => expect(plus[i]).toBeCloseTo(w, 6));
    [0.159816, 0.159816, 0.226789, 0.226789, 0.226789].forEach((w, i) => expect(minus[i]).toBeCloseTo(w, 6));
  });

  it('log σ is finite and accurate at large |z|', () => {
    expect(ref.logSigmoid(-800)).toBe(-800);
    expect(Math.abs(ref.logSigmoid(800))).toBe(0);
    expect(ref.logSigmoid(-30)).toBeCloseTo(-30 - Math.log1p(Math.exp(-30)), 12);
  });
});

describe('reference backward passes match finite differences (float64)', () => {
  it('step log-prob from logits: dL/dz for L = Σ gT·tokenLogp + Σ gS·stepSum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), seedArb, (n, v, s, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, n, v, s, 0.2);
        const z = Float64Array.from({ length: n * v }, () => (r() - 0.5) * 8);
        const gT = Float64Array.from({ length: n }, () => r() - 0.5);
        const gS = Float64Array.from({ length: s }, () => r() - 0.5);
        const input = { vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s };
        const loss = (x: Float64Array) => {
          const o = ref.stepLogprobRef({ ...input, logits: x });
          return o.tokenLogp.reduce((a, lp, t) => a + gT[t] * lp, 0) + o.stepSum.reduce((a, ss, k) => a + gS[k] * ss, 0);
        };
        const { lse } = ref.stepLogprobRef({ ...input, logits: z });
        const g = ref.stepLogprobBackwardRef({ ...input, logits: z, lse, gradToken: gT, gradStep: gS });
        for (let i = 0; i < n * v; i++) expect(Math.abs(g[i] - centralDiff(loss, z, i, 1e-5))).toBeLessThan(1e-7);
      }),
      { numRuns: 40 },
    );
  });

  it('from hidden: dhidden and dweight', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), seedArb, (n, d, v, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, n, v, 2, 0.2);
        const hidden = Float64Array.from({ length: n * d }, () => r() - 0.5);
        const weight = Float64Array.from({ length: v * d }, () => r() - 0.5);
        const gT = Float64Array.from({ length: n }, () => r() - 0.5);
        const gS = Float64Array.from({ length: 2 }, () => r() - 0.5);
        const base = { hiddenSize: d, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 2 };
        const loss = (h: Float64Array, w: Float64Array) => {
          const o = ref.stepLogprobFromHiddenRef({ ...base, hidden: h, weight: w });
          return o.tokenLogp.reduce((a, lp, t) => a + gT[t] * lp, 0) + o.stepSum.reduce((a, ss, k) => a + gS[k] * ss, 0);
        };
        const { lse } = ref.stepLogprobFromHiddenRef({ ...base, hidden, weight });
        const g = ref.stepLogprobFromHiddenBackwardRef({ ...base, hidden, weight, lse, gradToken: gT, gradStep: gS });
        for (let i = 0; i < n * d; i++) expect(Math.abs(g.dhidden[i] - centralDiff((h) => loss(h, weight), hidden, i, 1e-5))).toBeLessThan(1e-7);
        for (let i = 0; i < v * d; i++) expect(Math.abs(g.dweight[i] - centralDiff((w) => loss(hidden, w), weight, i, 1e-5))).toBeLessThan(1e-7);
      }),
      { numRuns: 30 },
    );
  });

  it('reward weights: dL/dr for L = Σ g·w over ragged segments with per-segment scale', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 }), seedArb, (lens, seed) => {
        const r = rng(seed);
        const offsets = [0];
        for (const l of lens) offsets.push(offsets[offsets.length - 1] + l);
        const total = offsets[offsets.length - 1];
        const rewards = Float64Array.from({ length: total }, () => r());
        const scale = lens.map(() => (r() - 0.5) * 4);
        const g = Float64Array.from({ length: total }, () => r() - 0.5);
        const loss = (x: Float64Array) => ref.rewardWeightsRef({ rewards: x, offsets, scale }).reduce((a, w, i) => a + g[i] * w, 0);
        const weights = ref.rewardWeightsRef({ rewards, offsets, scale });
        const grad = ref.rewardWeightsBackwardRef({ weights, gradWeights: g, offsets, scale });
        for (let i = 0; i < total; i++) expect(Math.abs(grad[i] - centralDiff(loss, rewards, i, 1e-5))).toBeLessThan(1e-8);
      }),
      { numRuns: 60 },
    );
  });

  it('DPO: gradChosen/gradRejected for sigmoid (margin, label smoothing) and IPO', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'sigmoid' | 'ipo'>('sigmoid', 'ipo'),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0.1, max: 3, noNaN: true }),
        seedArb,
        (lossType, beta, labelSmoothing, gradScale, seed) => {
          const r = rng(seed);
          const p = 4;
          const mk = () => Float64Array.from({ length: p }, () => -20 * r());
          const [pc, pr, rc, rr] = [mk(), mk(), mk(), mk()];
          const margin = Float64Array.from({ length: p }, () => r());
          const opts = { refChosen: rc, refRejected: rr, margin, beta, labelSmoothing, lossType, gradScale };
          const out = ref.dpoMarginRef({ ...opts, policyChosen: pc, policyRejected: pr });
          const total = (c: Float64Array, j: Float64Array) => gradScale * ref.dpoMarginRef({ ...opts, policyChosen: c, policyRejected: j }).loss.reduce((a, b) => a + b, 0);
          for (let i = 0; i < p; i++) {
            const tol = 1e-6 * (1 + Math.abs(out.gradChosen[i]));
            expect(Math.abs(out.gradChosen[i] - centralDiff((c) => total(c, pr), pc, i, 1e-5))).toBeLessThan(tol);
            expect(Math.abs(out.gradRejected[i] - centralDiff((j) => total(pc, j), pr, i, 1e-5))).toBeLessThan(tol);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('reference forward definitions', () => {
  it('naiveStepLogprob (materialised log-softmax) equals the streaming reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 50 }), seedArb, (n, v, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, n, v, 3);
        const logits = Float64Array.from({ length: n * v }, () => (r() - 0.5) * 30);
        const a = ref.stepLogprobRef({ logits, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 3 });
        const c = ref.naiveStepLogprob({ logits, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 3 });
        for (let t = 0; t < n; t++) expect(c.tokenLogp[t]).toBeCloseTo(a.tokenLogp[t], 10);
        for (let s = 0; s < 3; s++) expect(c.stepSum[s]).toBeCloseTo(a.stepSum[s], 9);
      }),
      { numRuns: 50 },
    );
  });

  it('entropy equals −Σ p log p computed directly, and the first maximum wins argmax ties', () => {
    const logits = [2, 5, 5, -Infinity, 1];
    const out = ref.stepLogprobRef({ logits, vocabSize: 5, targets: [2] });
    const lse = Math.log(Math.exp(2) + 2 * Math.exp(5) + Math.exp(1));
    const p = logits.map((z) => Math.exp(z - lse));
    expect(out.entropy[0]).toBeCloseTo(-p.reduce((a, pi) => (pi > 0 ? a + pi * Math.log(pi) : a), 0), 12);
    expect(out.argmaxHit[0]).toBe(0);
    expect(ref.stepLogprobRef({ logits, vocabSize: 5, targets: [1] }).argmaxHit[0]).toBe(1);
  });
});
