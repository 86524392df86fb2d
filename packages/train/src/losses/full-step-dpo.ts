/**
 * Full-Step-DPO, exactly as its released trainer computes it (methods.md §4.3; deviations flagged below).
 * For a winner i and a loser j (sequence indices into the packed batch):
 *
 *   u_i   = β·Σ_t (ℓ_it − ℓref_it)                 sequence implicit reward over completion tokens
 *   c_ij  = stopgrad σ(u_j − u_i)                   the DPO gradient coefficient (from the dpoMargin kernel)
 *   α⁺_it = softmax_t(+γ·w_it),  α⁻_jt = softmax_t(−γ·w_jt)   over the completion tokens of one response
 *           (w = the PRM reward of the step the token belongs to; native rewardWeights kernel)
 *   g_it  = stopgrad(ℓ_it − ℓref_it);  τ⁺ = σ(−κ·g) (winner),  τ⁻ = σ(+κ·g) (loser)
 *   P_i   = Σ_t α⁺ τ⁺ ℓ_it,   N_j = Σ_t α⁻ τ⁻ ℓ_jt
 *   loss  = mean over pairs of −c_ij·(P_i − N_j)
 *
 * It is a gradient surrogate: its value is not a DPO loss and can have either sign (log rewardAccuracy
 * instead); its gradient is DPO's with the token sum replaced by a reward-weighted token average, and β acts
 * only through c_ij. Gradients flow through ℓ only (α, τ, c are constants), so gradToken is
 *   −c_ij·α⁺·τ⁺/|pairs| on the winner's tokens and +c_ij·α⁻·τ⁻/|pairs| on the loser's, summed over pairs.
 */
import { reference } from '@stepwise/native';
import { ArgumentError } from '../errors.js';
import { checkArray, checkNumber, kernelsOf, type KernelChoice, type LossResult } from './common.js';

export interface FullStepDpoInput {
  /** Policy log p(target) per packed position [T]. */
  tokenLogps: ArrayLike<number>;
  /** Frozen reference log p(target) per packed position [T] (the cache stores it per token). */
  refTokenLogps: ArrayLike<number>;
  /** Per position: the PRM reward of the target token's step (anything on masked positions). */
  tokenRewards: ArrayLike<number>;
  /** Per position: ≥ 0 = completion token, −1 = prompt/prefix/no target (the batch's `stepIndex`). */
  mask: ArrayLike<number>;
  /** [S + 1] sequence boundaries in the packed batch. */
  seqOffsets: ArrayLike<number>;
  /**
   * (winner, loser) sequence indices. Default: (2p, 2p + 1) for every p, the batch builder's layout. The
   * original forms all (i, j) with rewards_i > rewards_j inside one problem's record; pass those here.
   */
  pairs?: readonly (readonly [number, number])[];
}

export interface FullStepDpoOptions extends KernelChoice {
  /** β inside c_ij only. Default 0.05 (the released config). */
  beta?: number;
  /** γ, `reward_temp`: inverse temperature of the token softmax. Default 0.5 (best in the paper's sweep). */
  gamma?: number;
  /** κ, `token_rate`, of the token factors τ. Default 1. */
  tokenRate?: number;
  /**
   * The released collator treats a token whose step reward is exactly 0 as padding (mask = [w ≠ 0]),
   * dropping it from the softmax (methods.md §10.6h). Default false: the mask is the completion tokens, so
   * a step the PRM scores 0 still gets the (smallest) winner weight. true reproduces the original.
   */
  zeroRewardIsPadding?: boolean;
}

export const FULL_STEP_DPO_DEFAULTS = { beta: 0.05, gamma: 0.5, tokenRate: 1, zeroRewardIsPadding: false } as const;

export function fullStepDpoLoss(input: FullStepDpoInput, options?: FullStepDpoOptions): LossResult {
  const beta = checkNumber('options.beta', options?.beta ?? FULL_STEP_DPO_DEFAULTS.beta, (b) => b > 0, 'a finite number > 0');
  const gamma = checkNumber('options.gamma', options?.gamma ?? FULL_STEP_DPO_DEFAULTS.gamma, (g) => g >= 0, 'a finite number >= 0');
  const kappa = checkNumber('options.tokenRate', options?.tokenRate ?? FULL_STEP_DPO_DEFAULTS.tokenRate, (k) => k >= 0, 'a finite number >= 0');
  const zeroIsPad = options?.zeroRewardIsPadding ?? FULL_STEP_DPO_DEFAULTS.zeroRewardIsPadding;
  const k = kernelsOf(options);

  const t = checkArray('input.tokenLogps', input.tokenLogps).length;
  const { tokenLogps: lp, refTokenLogps: ref, tokenRewards: w, mask } = input;
  checkArray('input.refTokenLogps', ref, t);
  checkArray('input.tokenRewards', w, t);
  checkArray('input.mask', mask, t);
  const offs = checkOffsets(input.seqOffsets, t);
  const s = offs.length - 1;
  const pairs = input.pairs ?? defaultPairs(s);
  pairs.forEach(([i, j], p) => {
    for (const [name, v] of [['winner', i], ['loser', j]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= s) throw new ArgumentError(`input.pairs[${p}].${name}`, `a sequence index in [0, ${s})`, v);
    }
  });

  // Sequence sums over completion tokens (the u's) and the compact list of softmax positions.
  const sums = new Float64Array(s);
  const refSums = new Float64Array(s);
  const positions: number[] = [];
  const segOffsets = [0];
  for (let q = 0; q < s; q++) {
    for (let x = offs[q]; x < offs[q + 1]; x++) {
      if (mask[x] < 0) continue;
      sums[q] += lp[x];
      refSums[q] += ref[x];
      if (!zeroIsPad || w[x] !== 0) positions.push(x);
    }
    segOffsets.push(positions.length);
  }
  // One kernel call for both signs: segments 0..S−1 get +γ (winner weights), S..2S−1 get −γ (loser weights).
  const n = positions.length;
  const rewards = new Float64Array(2 * n);
  for (let a = 0; a < n; a++) rewards[a] = rewards[n + a] = w[positions[a]];
  const offsets2 = [...segOffsets, ...segOffsets.slice(1).map((o) => o + n)];
  const scale = [...new Array<number>(s).fill(gamma), ...new Array<number>(s).fill(-gamma)];
  const alpha = k.rewardWeights(rewards, offsets2, scale);

  // c_ij from the DPO kernel: its gradient wrt the chosen sum is −β·σ(u_j − u_i), so c = −grad/β.
  const dpo = k.dpo(
    {
      policyChosen: pairs.map(([i]) => sums[i]),
      policyRejected: pairs.map(([, j]) => sums[j]),
      refChosen: pairs.map(([i]) => refSums[i]),
      refRejected: pairs.map(([, j]) => refSums[j]),
    },
    { beta, labelSmoothing: 0, lossType: 'sigmoid', gradScale: 1 },
  );

  const gradToken = k.array(t);
  let loss = 0;
  const np = pairs.length;
  pairs.forEach(([i, j], p) => {
    const c = -dpo.gradChosen[p] / beta;
    let pos = 0;
    let neg = 0;
    for (let a = segOffsets[i]; a < segOffsets[i + 1]; a++) {
      const x = positions[a];
      const weight = alpha[a] * reference.sigmoid(-kappa * (lp[x] - ref[x]));
      pos += weight * lp[x];
      gradToken[x] -= (c * weight) / np;
    }
    for (let a = segOffsets[j]; a < segOffsets[j + 1]; a++) {
      const x = positions[a];
      const weight = alpha[n + a] * reference.sigmoid(kappa * (lp[x] - ref[x]));
      neg += weight * lp[x];
      gradToken[x] += (c * weight) / np;
    }
    loss += (-c * (pos - neg)) / np;
  });
  return {
    loss,
    gradToken,
    metrics: {
      pairs: np,
      rewardAccuracy: dpo.rewardAccuracy,
      chosenReward: dpo.chosenReward,
      rejectedReward: dpo.rejectedReward,
      rewardMargin: dpo.rewardMargin,
      dpoLoss: dpo.meanLoss,
    },
  };
}

function defaultPairs(s: number): [number, number][] {
  if (s % 2 !== 0) throw new ArgumentError('input.pairs', 'given explicitly when the batch has an odd number of sequences', `${s} sequences`);
  return Array.from({ length: s / 2 }, (_, p): [number, number] => [2 * p, 2 * p + 1]);
}

export function checkOffsets(offsets: ArrayLike<number> | undefined, total: number): number[] {
  const o = Array.from(checkArray('input.seqOffsets', offsets));
  if (o.length < 1 || o[0] !== 0 || o[o.length - 1] !== total) throw new ArgumentError('input.seqOffsets', `offsets from 0 to ${total}`, o.length ? `${o[0]} … ${o[o.length - 1]}` : 'empty');
  for (let q = 1; q < o.length; q++) {
    if (!Number.isInteger(o[q]) || o[q] < o[q - 1]) throw new ArgumentError(`input.seqOffsets[${q}]`, 'a non-decreasing integer', o[q]);
  }
  return o;
}
