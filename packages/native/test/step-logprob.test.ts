// Native step log-prob from logits vs the float64 reference, on fresh random inputs over many shapes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Bf16Array, stepLogprob, stepLogprobBackward } from '../src/index.js';
import { expectBackwardMatches, expectForwardMatches } from './compare.js';
import { makeLogits, rng, seedArb, tokenBatch, uniform, unmaskTargets } from './helpers.js';

const shape = fc.record({
  n: fc.integer({ min: 0, max: 64 }),
  v: fc.integer({ min: 1, max: 700 }),
  numSteps: fc.integer({ min: 0, max: 9 }),
  spread: fc.constantFrom(1, 8, 40, 1e4),
  masked: fc.boolean(),
  exact: fc.boolean(),
});

describe('stepLogprob (fp32) vs the float64 reference', () => {
  it('property: random shapes, spreads up to ±1e4, −inf logits, empty/one-token steps, ignored tokens', () => {
    fc.assert(
      fc.property(shape, seedArb, (s, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, s.n, s.v, s.numSteps);
        const logits = makeLogits(r, s.n, s.v, s.spread, s.masked);
        unmaskTargets(logits, b.targets, s.v);
        const out = stepLogprob({ logits, vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps }, { exact: s.exact, entropy: true, argmaxHit: true });
        expectForwardMatches(out, logits, b, s.exact ? 1e-6 : 1e-4, { entropy: true, hit: true });
      }),
      { numRuns: 120 },
    );
  });

  it('large shapes: V = 152064 (Qwen2) and N in the thousands', () => {
    for (const [n, v, steps] of [[3, 152064, 2], [2500, 40, 300], [64, 32000, 7]] as const) {
      const r = rng(n * 7919 + v);
      const b = tokenBatch(r, n, v, steps);
      const logits = makeLogits(r, n, v, 12, true);
      unmaskTargets(logits, b.targets, v);
      for (const exact of [false, true]) {
        const out = stepLogprob({ logits, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: steps }, { exact });
        expectForwardMatches(out, logits, b, exact ? 1e-6 : 1e-4);
      }
    }
  });

  it('all tokens ignored: every output is 0 and no step is touched', () => {
    const r = rng(99);
    const n = 17;
    const v = 33;
    const logits = uniform(r, n * v, -5, 5);
    const targets = new Int32Array(n).fill(-100);
    const out = stepLogprob({ logits, vocabSize: v, targets, stepIndex: new Int32Array(n).fill(-1), numSteps: 4 }, { entropy: true, argmaxHit: true });
    expect(Array.from(out.tokenLogp)).toEqual(new Array(n).fill(0));
    expect(Array.from(out.stepSum)).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.lse)).toEqual(new Array(n).fill(0));
    expect(Array.from(out.entropy!)).toEqual(new Array(n).fill(0));
  });

  it('V = 1: log p = 0 for every non-ignored token; a target on a −inf logit gives −inf', () => {
    const out = stepLogprob({ logits: new Float32Array([3.5, -7, 1e4]), vocabSize: 1, targets: new Int32Array([0, 0, -1]) });
    expect(Array.from(out.tokenLogp)).toEqual([0, 0, 0]);
    const masked = stepLogprob({ logits: new Float32Array([-Infinity, 2, 1]), vocabSize: 3, targets: new Int32Array([0]), stepIndex: new Int32Array([0]), numSteps: 1 });
    expect(masked.tokenLogp[0]).toBe(-Infinity);
    expect(masked.stepSum[0]).toBe(-Infinity);
  });

  it('reads views at a byte offset and views over a SharedArrayBuffer correctly', () => {
    const r = rng(12);
    const [n, v] = [5, 37];
    const b = tokenBatch(r, n, v, 2);
    const logits = uniform(r, n * v, -3, 3);
    const want = stepLogprob({ logits, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 2 });
    const padded = new Float32Array(n * v + 9);
    padded.set(logits, 7);
    const shared = new Float32Array(new SharedArrayBuffer(n * v * 4));
    shared.set(logits);
    const tShared = new Int32Array(new SharedArrayBuffer(n * 4));
    tShared.set(b.targets);
    for (const view of [padded.subarray(7, 7 + n * v), shared]) {
      const got = stepLogprob({ logits: view, vocabSize: v, targets: tShared, stepIndex: b.stepIndex, numSteps: 2 });
      expect(got).toEqual(want);
    }
  });

  it('a step with one token sums to that token; an empty step is 0', () => {
    const r = rng(5);
    const logits = uniform(r, 3 * 11, -3, 3);
    const out = stepLogprob({ logits, vocabSize: 11, targets: new Int32Array([4, 7, 2]), stepIndex: new Int32Array([2, 0, 0]), numSteps: 3 });
    expect(out.stepSum[2]).toBe(out.tokenLogp[0]);
    expect(out.stepSum[1]).toBe(0);
    expect(out.stepSum[0]).toBeCloseTo(out.tokenLogp[1] + out.tokenLogp[2], 5);
  });
});

describe('stepLogprob (bf16) vs the reference on the bf16-rounded values', () => {
  it('property: random shapes and spreads', () => {
    fc.assert(
      fc.property(shape, seedArb, (s, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, s.n, s.v, s.numSteps);
        const f = makeLogits(r, s.n, s.v, s.spread, s.masked);
        unmaskTargets(f, b.targets, s.v);
        const logits = Bf16Array.from(f);
        const out = stepLogprob({ logits, vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps }, { exact: s.exact, entropy: true, argmaxHit: true });
        expectForwardMatches(out, logits.toFloat32(), b, s.exact ? 1e-6 : 1e-4, { entropy: true, hit: true });
      }),
      { numRuns: 80 },
    );
  });
});

describe('stepLogprobBackward vs the reference (and so vs finite differences)', () => {
  const bshape = fc.record({
    n: fc.integer({ min: 0, max: 40 }),
    v: fc.integer({ min: 1, max: 400 }),
    numSteps: fc.integer({ min: 0, max: 6 }),
    spread: fc.constantFrom(1, 10, 1e4),
    perToken: fc.boolean(),
    perStep: fc.boolean(),
    exact: fc.boolean(),
    bf16: fc.boolean(),
    inPlace: fc.boolean(),
  });

  it('property: per-token and/or per-step upstream grads, fp32 and bf16, in place or not', () => {
    fc.assert(
      fc.property(bshape, seedArb, (s, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, s.n, s.v, s.numSteps);
        const f = makeLogits(r, s.n, s.v, s.spread, true);
        unmaskTargets(f, b.targets, s.v);
        const logits = s.bf16 ? Bf16Array.from(f) : f;
        const values = s.bf16 ? (logits as Bf16Array).toFloat32() : Float32Array.from(f);
        const base = { vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps };
        const { lse } = stepLogprob({ ...base, logits }, { exact: s.exact });
        const grads = {
          gradToken: s.perToken ? uniform(r, s.n, -2, 2) : undefined,
          gradStep: s.perStep ? uniform(r, s.numSteps, -2, 2) : undefined,
        };
        const { dlogits } = stepLogprobBackward({ ...base, logits, lse, ...grads }, { exact: s.exact, inPlace: s.inPlace });
        if (s.inPlace) expect(dlogits).toBe(logits);
        const got = dlogits instanceof Bf16Array ? dlogits.toFloat32() : dlogits;
        // bf16 outputs round each entry to 8 bits of mantissa (≤ 2^-8 relative): spec allows 1e-2 relative.
        expectBackwardMatches(got, values, b, lse, grads, s.exact ? 1e-6 : 1e-5, s.bf16 ? 2 ** -8 : 0);
      }),
      { numRuns: 120 },
    );
  });

  it('large vocabulary (V = 152064) backward in place', () => {
    const r = rng(4242);
    const b = tokenBatch(r, 3, 152064, 2, 0);
    const logits = uniform(r, 3 * 152064, -9, 9);
    const values = Float32Array.from(logits);
    const base = { vocabSize: 152064, targets: b.targets, stepIndex: b.stepIndex, numSteps: 2 };
    const { lse } = stepLogprob({ ...base, logits });
    const gradToken = uniform(r, 3, 0.5, 1.5);
    const { dlogits } = stepLogprobBackward({ ...base, logits, lse, gradToken }, { inPlace: true });
    expectBackwardMatches(dlogits, values, b, lse, { gradToken }, 1e-5);
  });
});

describe('native backward vs finite differences of the native forward (exact, fp32)', () => {
  it('dL/dz for L = Σ gT·tokenLogp + Σ gS·stepSum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 12 }), seedArb, (n, v, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, n, v, 2, 0.2);
        const z = uniform(r, n * v, -2, 2);
        const gradToken = uniform(r, n, -1, 1);
        const gradStep = uniform(r, 2, -1, 1);
        const base = { vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 2 };
        const loss = (x: Float32Array) => {
          const o = stepLogprob({ ...base, logits: x }, { exact: true });
          let l = 0;
          o.tokenLogp.forEach((lp, t) => (l += gradToken[t] * lp));
          o.stepSum.forEach((s, k) => (l += gradStep[k] * s));
          return l;
        };
        const { lse } = stepLogprob({ ...base, logits: z }, { exact: true });
        const { dlogits } = stepLogprobBackward({ ...base, logits: z, lse, gradToken, gradStep }, { exact: true });
        for (let i = 0; i < n * v; i++) {
          const x = Float32Array.from(z);
          x[i] = z[i] + 0.01;
          const up = loss(x);
          const hUp = x[i];
          x[i] = z[i] - 0.01;
          const fd = (up - loss(x)) / (hUp - x[i]); // divide by the fp32 step actually taken
          expect(Math.abs(dlogits[i] - fd)).toBeLessThan(2e-3);
        }
      }),
      { numRuns: 25 },
    );
  });
});
