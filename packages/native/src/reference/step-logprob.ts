/**
 * Float64 reference of step log-probabilities from logits: the readable definition of every output of
 * `stepLogprob` / `stepLogprobBackward`, and the test oracle. Straightforward loops, no tricks beyond the
 * max-shift that makes log-sum-exp finite.
 *
 * Shapes: logits [n, v] row-major; targets [n] (negative = ignored); stepIndex [n] in [-1, numSteps).
 */

export interface StepLogprobRefInput {
  logits: ArrayLike<number>;
  vocabSize: number;
  targets: ArrayLike<number>;
  /** Omitted = no token belongs to a step. */
  stepIndex?: ArrayLike<number>;
  numSteps?: number;
}

export interface StepLogprobRefOutput {
  tokenLogp: Float64Array;
  stepSum: Float64Array;
  lse: Float64Array;
  entropy: Float64Array;
  argmaxHit: Uint8Array;
}

/** log Σ_j exp(z_j) over one row, shifted by the max so it cannot overflow; −∞ for an all −∞ row. */
export function logSumExp(z: ArrayLike<number>, start: number, v: number): number {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, z[start + j]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < v; j++) sum += Math.exp(z[start + j] - max);
  return max + Math.log(sum);
}

export function stepLogprobRef(input: StepLogprobRefInput): StepLogprobRefOutput {
  const { logits, vocabSize: v, targets } = input;
  const n = targets.length;
  const numSteps = input.numSteps ?? 0;
  const out: StepLogprobRefOutput = {
    tokenLogp: new Float64Array(n),
    stepSum: new Float64Array(numSteps),
    lse: new Float64Array(n),
    entropy: new Float64Array(n),
    argmaxHit: new Uint8Array(n),
  };
  for (let t = 0; t < n; t++) {
    const target = targets[t];
    if (target < 0) continue; // ignored: every per-token output stays 0
    const row = t * v;
    const lse = logSumExp(logits, row, v);
    out.lse[t] = lse;
    out.tokenLogp[t] = logits[row + target] - lse;
    // entropy = −Σ p log p = lse − Σ p z; terms with p = 0 (z = −∞) contribute nothing.
    let pz = 0;
    let firstMax = 0;
    for (let j = 0; j < v; j++) {
      const z = logits[row + j];
      if (z > logits[row + firstMax]) firstMax = j;
      if (z !== -Infinity) pz += Math.exp(z - lse) * z;
    }
    out.entropy[t] = lse - pz;
    out.argmaxHit[t] = firstMax === target ? 1 : 0; // first maximum wins ties
    const s = input.stepIndex ? input.stepIndex[t] : -1;
    if (s >= 0) out.stepSum[s] += out.tokenLogp[t];
  }
  return out;
}

export interface StepLogprobBackwardRefInput extends StepLogprobRefInput {
  /** From the forward (as saved by the kernel: fp32 is fine). */
  lse: ArrayLike<number>;
  gradToken?: ArrayLike<number>;
  gradStep?: ArrayLike<number>;
}

/**
 * dL/dz_tj = g_t · (onehot_j − softmax_j(z_t)) with g_t = gradToken[t] + gradStep[stepIndex[t]] (the log-prob
 * of token t feeds both its own output and its step's sum). Ignored tokens get a zero row.
 */
export function stepLogprobBackwardRef(input: StepLogprobBackwardRefInput): Float64Array {
  const { logits, vocabSize: v, targets, lse } = input;
  const n = targets.length;
  const d = new Float64Array(n * v);
  for (let t = 0; t < n; t++) {
    const target = targets[t];
    if (target < 0) continue;
    const s = input.stepIndex ? input.stepIndex[t] : -1;
    const g = (input.gradToken ? input.gradToken[t] : 0) + (s >= 0 && input.gradStep ? input.gradStep[s] : 0);
    const row = t * v;
    for (let j = 0; j < v; j++) d[row + j] = -g * Math.exp(logits[row + j] - lse[t]);
    d[row + target] += g;
  }
  return d;
}

/**
 * The unscaled gradient of the fused forward: softmax(z_t) − onehot(target_t) = −∂logp_t/∂z_t, and a zero row
 * for ignored tokens. With upstream gradients g_t the full gradient is −g_t times this row, which is
 * {@link stepLogprobBackwardRef}.
 */
export function stepLogprobUnscaledGradRef(input: StepLogprobRefInput): Float64Array {
  const { logits, vocabSize: v, targets } = input;
  const n = targets.length;
  const u = new Float64Array(n * v);
  for (let t = 0; t < n; t++) {
    const target = targets[t];
    if (target < 0) continue;
    const row = t * v;
    const lse = logSumExp(logits, row, v);
    for (let j = 0; j < v; j++) u[row + j] = Math.exp(logits[row + j] - lse);
    u[row + target] = Math.expm1(logits[row + target] - lse); // p_t − 1 without cancellation as p_t → 1
  }
  return u;
}

/**
 * The naive version most frameworks run: materialise log-softmax of every row (n·v float64 values), then
 * gather the targets. Same results as {@link stepLogprobRef}; exported as the baseline for benchmarks.
 */
export function naiveStepLogprob(input: StepLogprobRefInput): { tokenLogp: Float64Array; stepSum: Float64Array } {
  const { logits, vocabSize: v, targets } = input;
  const n = targets.length;
  const logSoftmax = new Float64Array(n * v);
  for (let t = 0; t < n; t++) {
    const lse = logSumExp(logits, t * v, v);
    for (let j = 0; j < v; j++) logSoftmax[t * v + j] = logits[t * v + j] - lse;
  }
  const tokenLogp = new Float64Array(n);
  const stepSum = new Float64Array(input.numSteps ?? 0);
  for (let t = 0; t < n; t++) {
    if (targets[t] < 0) continue;
    tokenLogp[t] = logSoftmax[t * v + targets[t]];
    const s = input.stepIndex ? input.stepIndex[t] : -1;
    if (s >= 0) stepSum[s] += tokenLogp[t];
  }
  return { tokenLogp, stepSum };
}
