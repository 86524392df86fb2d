/**
 * Float64 reference of step log-probabilities from hidden states and the LM head. By definition the logits
 * are z = hidden · weightᵀ (hidden [n, d], weight [v, d], row j of weight = token j); everything else is the
 * logits reference. The native kernel never stores z whole; this reference does, for clarity.
 */
import {
  type StepLogprobRefOutput,
  stepLogprobBackwardRef,
  stepLogprobRef,
} from './step-logprob.js';

export interface HiddenRefInput {
  hidden: ArrayLike<number>;
  weight: ArrayLike<number>;
  hiddenSize: number;
  vocabSize: number;
  targets: ArrayLike<number>;
  stepIndex?: ArrayLike<number>;
  numSteps?: number;
}

/** z[t, j] = Σ_k hidden[t, k] · weight[j, k], in float64. */
export function logitsFromHidden(hidden: ArrayLike<number>, weight: ArrayLike<number>, d: number, v: number): Float64Array {
  const n = hidden.length / d;
  const z = new Float64Array(n * v);
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < v; j++) {
      let acc = 0;
      for (let k = 0; k < d; k++) acc += hidden[t * d + k] * weight[j * d + k];
      z[t * v + j] = acc;
    }
  }
  return z;
}

export function stepLogprobFromHiddenRef(input: HiddenRefInput): StepLogprobRefOutput {
  const logits = logitsFromHidden(input.hidden, input.weight, input.hiddenSize, input.vocabSize);
  return stepLogprobRef({ ...input, logits });
}

export interface HiddenBackwardRefInput extends HiddenRefInput {
  lse: ArrayLike<number>;
  gradToken?: ArrayLike<number>;
  gradStep?: ArrayLike<number>;
}

/**
 * Chain rule through z = hidden · weightᵀ: with G = dL/dz (the logits reference's backward),
 * dhidden = G · weight ([n, d]) and dweight = Gᵀ · hidden ([v, d]).
 */
export function stepLogprobFromHiddenBackwardRef(input: HiddenBackwardRefInput): {
  dhidden: Float64Array;
  dweight: Float64Array;
} {
  const { hidden, weight, hiddenSize: d, vocabSize: v } = input;
  const n = input.targets.length;
  const logits = logitsFromHidden(hidden, weight, d, v);
  const g = stepLogprobBackwardRef({ ...input, logits });
  const dhidden = new Float64Array(n * d);
  const dweight = new Float64Array(v * d);
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < v; j++) {
      const gtj = g[t * v + j];
      if (gtj === 0) continue;
      for (let k = 0; k < d; k++) {
        dhidden[t * d + k] += gtj * weight[j * d + k];
        dweight[j * d + k] += gtj * hidden[t * d + k];
      }
    }
  }
  return { dhidden, dweight };
}
