/**
 * Float64 reference of reward weighting (Full-Step-DPO's step weights, methods.md §4.3): over a ragged batch,
 * segment s covers elements [offsets[s], offsets[s+1]) and its weights are softmax(scale[s] · r) over that
 * segment (scale = +γ for a chosen response, −γ for a rejected one). Empty segments produce nothing.
 */

export interface RewardWeightsRefInput {
  rewards: ArrayLike<number>;
  /** numSegments + 1 non-decreasing offsets, from 0 to rewards.length. */
  offsets: ArrayLike<number>;
  /** One scale per segment. */
  scale: ArrayLike<number>;
}

export function rewardWeightsRef(input: RewardWeightsRefInput): Float64Array {
  const { rewards, offsets, scale } = input;
  const w = new Float64Array(rewards.length);
  for (let s = 0; s + 1 < offsets.length; s++) {
    const [b, e] = [offsets[s], offsets[s + 1]];
    let max = -Infinity;
    for (let i = b; i < e; i++) max = Math.max(max, scale[s] * rewards[i]);
    let sum = 0;
    for (let i = b; i < e; i++) sum += Math.exp(scale[s] * rewards[i] - max);
    for (let i = b; i < e; i++) w[i] = Math.exp(scale[s] * rewards[i] - max) / sum;
  }
  return w;
}

export interface RewardWeightsBackwardRefInput {
  /** The forward's output. */
  weights: ArrayLike<number>;
  /** dL/dweights. */
  gradWeights: ArrayLike<number>;
  offsets: ArrayLike<number>;
  scale: ArrayLike<number>;
}

/** Softmax backward times the scale: dL/dr_i = scale_s · w_i · (g_i − Σ_j w_j g_j) within segment s. */
export function rewardWeightsBackwardRef(input: RewardWeightsBackwardRefInput): Float64Array {
  const { weights: w, gradWeights: g, offsets, scale } = input;
  const out = new Float64Array(w.length);
  for (let s = 0; s + 1 < offsets.length; s++) {
    const [b, e] = [offsets[s], offsets[s + 1]];
    let dot = 0;
    for (let i = b; i < e; i++) dot += w[i] * g[i];
    for (let i = b; i < e; i++) out[i] = scale[s] * w[i] * (g[i] - dot);
  }
  return out;
}
