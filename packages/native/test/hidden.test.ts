// Native step log-prob from hidden states + LM head vs the float64 reference (which materialises the logits).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Bf16Array, reference as ref, stepLogprobFromHidden, stepLogprobFromHiddenBackward } from '../src/index.js';
import { expectForwardMatches } from './compare.js';
import { maxAbs, rng, seedArb, tokenBatch, uniform } from './helpers.js';

const shape = fc.record({
  n: fc.integer({ min: 0, max: 24 }),
  d: fc.integer({ min: 1, max: 48 }),
  v: fc.integer({ min: 1, max: 300 }),
  numSteps: fc.integer({ min: 0, max: 5 }),
  bf16: fc.boolean(),
  chunkRows: fc.constantFrom(0, 1, 3, 64),
});

/** Hidden/weight scaled so logits have an O(1..10) spread, like a trained LM head. */
function makeInputs(r: () => number, n: number, d: number, v: number) {
  return { hidden: uniform(r, n * d, -1, 1), weight: uniform(r, v * d, -3 / Math.sqrt(d), 3 / Math.sqrt(d)) };
}

describe('stepLogprobFromHidden vs the reference', () => {
  it('property: forward over shapes, dtypes and chunk sizes', () => {
    fc.assert(
      fc.property(shape, seedArb, (s, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, s.n, s.v, s.numSteps);
        const x = makeInputs(r, s.n, s.d, s.v);
        const hidden = s.bf16 ? Bf16Array.from(x.hidden) : x.hidden;
        const weight = s.bf16 ? Bf16Array.from(x.weight) : x.weight;
        const hv = hidden instanceof Bf16Array ? hidden.toFloat32() : hidden;
        const wv = weight instanceof Bf16Array ? weight.toFloat32() : weight;
        const out = stepLogprobFromHidden(
          { hidden, weight, hiddenSize: s.d, vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps },
          { chunkRows: s.chunkRows, entropy: true, argmaxHit: true },
        );
        // The GEMM accumulates d products in fp32: allow d·ε per logit on top of the logits tolerance.
        const logits = ref.logitsFromHidden(hv, wv, s.d, s.v);
        expectForwardMatches(out, logits, b, 1e-4 + s.d * 3e-7 * 3, { entropy: true });
      }),
      { numRuns: 60 },
    );
  });

  it('property: backward dhidden and dweight (overwrite and accumulate)', () => {
    fc.assert(
      fc.property(shape, fc.boolean(), seedArb, (s, accumulate, seed) => {
        const r = rng(seed);
        const b = tokenBatch(r, s.n, s.v, s.numSteps);
        const x = makeInputs(r, s.n, s.d, s.v);
        const hidden = s.bf16 ? Bf16Array.from(x.hidden) : x.hidden;
        const weight = s.bf16 ? Bf16Array.from(x.weight) : x.weight;
        const hv = hidden instanceof Bf16Array ? hidden.toFloat32() : hidden;
        const wv = weight instanceof Bf16Array ? weight.toFloat32() : weight;
        const base = { hidden, weight, hiddenSize: s.d, vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps };
        const { lse } = stepLogprobFromHidden(base, { chunkRows: s.chunkRows });
        const gradToken = uniform(r, s.n, -1, 1);
        const gradStep = uniform(r, s.numSteps, -1, 1);
        const prior = uniform(r, s.v * s.d, -0.5, 0.5);
        const dweightIn = accumulate ? Float32Array.from(prior) : undefined;
        const got = stepLogprobFromHiddenBackward(
          { ...base, lse, gradToken, gradStep, dweight: dweightIn },
          { chunkRows: s.chunkRows, accumulateDweight: accumulate },
        );
        const want = ref.stepLogprobFromHiddenBackwardRef({ hidden: hv, weight: wv, hiddenSize: s.d, vocabSize: s.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: s.numSteps, lse, gradToken, gradStep });
        if (accumulate) {
          expect(got.dweight).toBe(dweightIn);
          for (let i = 0; i < want.dweight.length; i++) want.dweight[i] += prior[i];
        }
        // fp32 GEMM sums of up to max(n, v) terms: scale the tolerance by the largest reference entry.
        const tolH = 1e-5 * (1 + maxAbs(want.dhidden)) * Math.sqrt(s.v + 1);
        const tolW = 1e-5 * (1 + maxAbs(want.dweight)) * Math.sqrt(s.n + 1);
        for (let i = 0; i < want.dhidden.length; i++) if (!(Math.abs(got.dhidden![i] - want.dhidden[i]) <= tolH)) expect.fail(`dhidden[${i}] ${got.dhidden![i]} vs ${want.dhidden[i]}`);
        for (let i = 0; i < want.dweight.length; i++) if (!(Math.abs(got.dweight![i] - want.dweight[i]) <= tolW)) expect.fail(`dweight[${i}] ${got.dweight![i]} vs ${want.dweight[i]}`);
      }),
      { numRuns: 50 },
    );
  });

  it('agrees with the logits path on a realistic shape (n = 96, d = 64, v = 4096), and can skip either gradient', () => {
    const r = rng(77);
    const [n, d, v] = [96, 64, 4096];
    const b = tokenBatch(r, n, v, 6);
    const x = makeInputs(r, n, d, v);
    const base = { ...x, hiddenSize: d, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 6 };
    const out = stepLogprobFromHidden(base);
    expectForwardMatches(out, ref.logitsFromHidden(x.hidden, x.weight, d, v), b, 1e-4 + d * 1e-6);
    const onlyH = stepLogprobFromHiddenBackward({ ...base, lse: out.lse, gradStep: uniform(r, 6, -1, 1) }, { dweight: false });
    expect(onlyH.dweight).toBeUndefined();
    expect(maxAbs(onlyH.dhidden!)).toBeGreaterThan(0);
    const onlyW = stepLogprobFromHiddenBackward({ ...base, lse: out.lse, gradStep: uniform(r, 6, -1, 1) }, { dhidden: false });
    expect(onlyW.dhidden).toBeUndefined();
    expect(maxAbs(onlyW.dweight!)).toBeGreaterThan(0);
  });
});
