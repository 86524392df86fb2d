// Native-vs-reference comparisons shared by the host and CUDA suites. Tolerances scale with the magnitude of
// the values involved: an fp32 result near 2e4 cannot be closer than ~1e-3, whatever the kernel does.
import { expect } from 'vitest';

import { reference as ref } from '../src/index.js';
import type { TokenBatch } from './helpers.js';

const F32_EPS = 2 ** -23;

export interface ForwardOut {
  tokenLogp: ArrayLike<number>;
  stepSum: ArrayLike<number>;
  lse: ArrayLike<number>;
  entropy?: ArrayLike<number>;
  argmaxHit?: ArrayLike<number>;
}

/**
 * Checks a forward result against the float64 reference on `values` (the exact inputs the kernel saw, e.g.
 * bf16-decoded). `tol` is the per-token absolute error allowed at unit scale (1e-4 fast, 1e-6 exact).
 */
export function expectForwardMatches(out: ForwardOut, values: ArrayLike<number>, b: TokenBatch, tol: number, opts: { entropy?: boolean; hit?: boolean } = {}): void {
  const want = ref.stepLogprobRef({ logits: values, vocabSize: b.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: b.numSteps });
  const stepTol = new Float64Array(b.numSteps);
  let worst = 0;
  for (let t = 0; t < b.n; t++) {
    if (b.targets[t] < 0) {
      expect(out.tokenLogp[t]).toBe(0);
      expect(out.lse[t]).toBe(0);
      continue;
    }
    // fp32 rounding of lse and of z_target both reach the result: allow a few ulps of their magnitude.
    const scale = Math.abs(want.lse[t]) + Math.abs(values[t * b.v + b.targets[t]]) || 0;
    const tTol = tol + 8 * F32_EPS * (Number.isFinite(scale) ? scale : 0);
    const err = Math.abs(out.tokenLogp[t] - want.tokenLogp[t]);
    if (want.tokenLogp[t] === -Infinity) expect(out.tokenLogp[t]).toBe(-Infinity);
    else if (!(err <= tTol)) expect.fail(`tokenLogp[${t}] = ${out.tokenLogp[t]}, reference ${want.tokenLogp[t]} (err ${err} > ${tTol})`);
    expect(Math.abs(out.lse[t] - want.lse[t])).toBeLessThanOrEqual(tol + 8 * F32_EPS * Math.abs(want.lse[t]));
    if (b.stepIndex[t] >= 0) stepTol[b.stepIndex[t]] += tTol + 4 * F32_EPS * Math.abs(want.tokenLogp[t]);
    worst = Math.max(worst, err);
    if (opts.entropy && out.entropy) {
      const eTol = tol * 10 + 16 * F32_EPS * Math.abs(want.lse[t]);
      if (!(Math.abs(out.entropy[t] - want.entropy[t]) <= eTol)) expect.fail(`entropy[${t}] = ${out.entropy[t]}, reference ${want.entropy[t]}`);
    }
    if (opts.hit && out.argmaxHit) expect(out.argmaxHit[t], `argmaxHit[${t}]`).toBe(want.argmaxHit[t]);
  }
  for (let s = 0; s < b.numSteps; s++) {
    if (want.stepSum[s] === -Infinity) {
      expect(out.stepSum[s]).toBe(-Infinity);
      continue;
    }
    const sTol = stepTol[s] + tol;
    if (!(Math.abs(out.stepSum[s] - want.stepSum[s]) <= sTol)) expect.fail(`stepSum[${s}] = ${out.stepSum[s]}, reference ${want.stepSum[s]} (tol ${sTol})`);
  }
}

/**
 * Checks dlogits against the reference backward (which uses the kernel's own saved lse, as the kernel does).
 * `rel` is the allowed error relative to |g_t| (the largest possible entry of the row).
 */
export function expectBackwardMatches(
  dlogits: ArrayLike<number>,
  values: ArrayLike<number>,
  b: TokenBatch,
  lse: ArrayLike<number>,
  grads: { gradToken?: Float32Array; gradStep?: Float32Array },
  rel: number,
  outputRounding = 0,
): void {
  const want = ref.stepLogprobBackwardRef({ logits: values, vocabSize: b.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: b.numSteps, lse, ...grads });
  for (let t = 0; t < b.n; t++) {
    const s = b.stepIndex[t];
    const g = Math.abs((grads.gradToken?.[t] ?? 0) + (s >= 0 && grads.gradStep ? grads.gradStep[s] : 0));
    for (let j = 0; j < b.v; j++) {
      const i = t * b.v + j;
      const tol = rel * g + outputRounding * Math.abs(want[i]) + 1e-30;
      if (!(Math.abs(dlogits[i] - want[i]) <= tol)) expect.fail(`dlogits[${t}, ${j}] = ${dlogits[i]}, reference ${want[i]} (tol ${tol})`);
    }
  }
}
