/** Property tests (fast-check): identities between the losses that must hold for every input. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dpoLoss, fullStepDpoLoss, referenceKernels, sppdLoss, stepDpoLoss } from '../src/index.js';

const ref = { kernels: referenceKernels };
// Bounded so that σ of every logit stays representable (a sign test on an underflowed 0 would be meaningless).
const logp = fc.double({ min: -30, max: -0.01, noNaN: true });
const pairsArb = fc.array(fc.tuple(logp, logp, logp, logp), { minLength: 1, maxLength: 6 }).map((ps) => ({
  policy: ps.flatMap(([a, b]) => [a, b]),
  reference: ps.flatMap(([, , c, d]) => [c, d]),
}));
const beta = fc.double({ min: 0.01, max: 2, noNaN: true });

describe('properties', () => {
  it('SPPD with γ = 0 is Step-DPO (same β), whatever the values', () => {
    fc.assert(
      fc.property(pairsArb, beta, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }), (s, b, vals) => {
        const values = vals.slice(0, s.policy.length);
        const a = sppdLoss(s, values, { ...ref, beta: b, gamma: 0 });
        const c = stepDpoLoss(s, { ...ref, beta: b });
        expect(a.loss).toBeCloseTo(c.loss, 12);
        a.gradStep!.forEach((g, i) => expect(g).toBeCloseTo(c.gradStep![i], 12));
      }),
      { numRuns: 100 },
    );
  });

  it('a larger value gap never lowers the SPPD loss (the margin is subtracted)', () => {
    fc.assert(
      fc.property(pairsArb, fc.double({ min: 0.01, max: 5, noNaN: true }), (s, gamma) => {
        const p = s.policy.length / 2;
        const small = sppdLoss(s, Array.from({ length: 2 * p }, (_, i) => (i % 2 ? 0.4 : 0.6)), { ...ref, gamma });
        const large = sppdLoss(s, Array.from({ length: 2 * p }, (_, i) => (i % 2 ? 0.05 : 0.95)), { ...ref, gamma });
        expect(large.loss).toBeGreaterThan(small.loss);
      }),
      { numRuns: 100 },
    );
  });

  it('swapping chosen and rejected flips the sign of each sequence’s DPO gradient', () => {
    fc.assert(
      fc.property(pairsArb, beta, (s, b) => {
        const swap = (a: number[]) => a.map((_, i) => a[i ^ 1]);
        const g = dpoLoss(s, { ...ref, beta: b }).gradStep!;
        const gs = dpoLoss({ policy: swap(s.policy), reference: swap(s.reference) }, { ...ref, beta: b }).gradStep!;
        for (let i = 0; i < g.length; i++) {
          expect(Math.sign(g[i])).toBe(i % 2 === 0 ? -1 : 1);
          expect(Math.sign(gs[i ^ 1])).toBe(-Math.sign(g[i]));
        }
      }),
      { numRuns: 100 },
    );
  });

  // Full-Step-DPO: two sequences of random lengths with random step rewards and log-probs.
  const seqArb = fc.array(fc.tuple(logp, logp, fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 9 });
  const fsBatch = (w: [number, number, number][], l: [number, number, number][]) => {
    const all = [...w, ...l];
    return {
      tokenLogps: all.map((x) => x[0]),
      refTokenLogps: all.map((x) => x[1]),
      tokenRewards: all.map((x) => x[2]),
      mask: all.map(() => 0),
      seqOffsets: [0, w.length, all.length],
    };
  };

  it('Full-Step-DPO with γ → 0 weights every token uniformly (κ = 0 so τ = ½ everywhere)', () => {
    fc.assert(
      fc.property(seqArb, seqArb, (w, l) => {
        const b = fsBatch(w, l);
        const g = fullStepDpoLoss(b, { ...ref, gamma: 1e-12, tokenRate: 0 }).gradToken!;
        for (let t = 1; t < w.length; t++) expect(g[t]).toBeCloseTo(g[0], 12);
        for (let t = w.length + 1; t < g.length; t++) expect(g[t]).toBeCloseTo(g[w.length], 12);
        // uniform average over each response, times ½·c: the winner's tokens sum to −c/2, the loser's to +c/2
        const sum = (a: number, z: number) => Array.from(g.subarray(a, z)).reduce((x, y) => x + y, 0);
        expect(sum(0, w.length)).toBeCloseTo(-sum(w.length, g.length), 12);
        expect(sum(0, w.length)).toBeLessThan(0);
      }),
      { numRuns: 100 },
    );
  });

  it('Full-Step-DPO: winner tokens get gradient ≤ 0, loser tokens ≥ 0; swapping flips the sides', () => {
    fc.assert(
      fc.property(seqArb, seqArb, fc.double({ min: 0, max: 5, noNaN: true }), (w, l, gamma) => {
        const g = fullStepDpoLoss(fsBatch(w, l), { ...ref, gamma }).gradToken!;
        const gs = fullStepDpoLoss(fsBatch(l, w), { ...ref, gamma }).gradToken!;
        for (let t = 0; t < g.length; t++) expect(Math.sign(g[t])).toBe(t < w.length ? -1 : 1);
        for (let t = 0; t < gs.length; t++) expect(Math.sign(gs[t])).toBe(t < l.length ? -1 : 1);
      }),
      { numRuns: 100 },
    );
  });
});
