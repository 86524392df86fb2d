/**
 * The DPO family over completion log-prob sums (methods.md §1.3, §2.1, §3.1): DPO, IPO, Step-DPO, a fixed
 * margin and SPPD's dynamic value margin. All of them are one call of the native `dpoMargin` kernel; what
 * differs is the margin each pair gets and whether the sums are length-normalised (IPO).
 *
 * Sign conventions: z_p = β·h_p − m_p with h_p = (π_c − ref_c) − (π_r − ref_r); loss_p = −log σ(z_p)
 * (label smoothing ε: −(1−ε)·log σ(z) − ε·log σ(−z)); the batch loss is the mean over pairs, and every
 * gradient is of that mean (the kernel's gradScale = 1/P), so gradStep[2p] ≤ 0 ≤ gradStep[2p+1] for ε = 0:
 * descending raises the chosen log-prob and lowers the rejected one.
 */
import { ArgumentError } from '../errors.js';
import { checkArray, checkNumber, interleaveGrad, kernelsOf, splitPairs, type KernelChoice, type LossResult, type PairedSums } from './common.js';
import type { DpoKernelOutput, LossKernels } from './kernels.js';

export interface DpoOptions extends KernelChoice {
  /** Inverse temperature of the implicit reward. Default 0.1 (TRL's default; SPPD's value). */
  beta?: number;
  /** ε ∈ [0, 0.5]: probability that a label is flipped (conservative DPO). Default 0 (every paper here). */
  labelSmoothing?: number;
}

export const DPO_DEFAULTS = { beta: 0.1, labelSmoothing: 0 } as const;

function dpoOptions(o: DpoOptions | undefined) {
  const beta = checkNumber('options.beta', o?.beta ?? DPO_DEFAULTS.beta, (b) => b > 0, 'a finite number > 0');
  const labelSmoothing = checkNumber('options.labelSmoothing', o?.labelSmoothing ?? DPO_DEFAULTS.labelSmoothing, (e) => e >= 0 && e <= 0.5, 'a number in [0, 0.5]');
  return { beta, labelSmoothing };
}

function metricsOf(r: DpoKernelOutput, pairs: number): Record<string, number> {
  return {
    pairs,
    rewardAccuracy: r.rewardAccuracy,
    chosenReward: r.chosenReward,
    rejectedReward: r.rejectedReward,
    rewardMargin: r.rewardMargin,
  };
}

/** Shared body: one kernel call with the given per-pair margins. */
function marginLoss(sums: PairedSums, margin: ArrayLike<number> | undefined, o: DpoOptions | undefined): LossResult {
  const { beta, labelSmoothing } = dpoOptions(o);
  const k: LossKernels = kernelsOf(o);
  const split = splitPairs(sums);
  const p = split.policyChosen.length;
  const r = k.dpo({ ...split, ...(margin ? { margin } : {}) }, { beta, labelSmoothing, lossType: 'sigmoid', gradScale: p === 0 ? 1 : 1 / p });
  const metrics = metricsOf(r, p);
  if (margin) {
    let sum = 0;
    for (let i = 0; i < p; i++) sum += margin[i];
    metrics.meanMargin = p === 0 ? 0 : sum / p;
  }
  return { loss: r.meanLoss, gradStep: interleaveGrad(k, r.gradChosen), metrics };
}

/** DPO (sigmoid) on completion sums: mean_p −log σ(β·h_p). Sequence-level DPO, SPHERE, SPPD stage 1. */
export function dpoLoss(sums: PairedSums, options?: DpoOptions): LossResult {
  return marginLoss(sums, undefined, options);
}

/**
 * Step-DPO (Lai et al. 2024): DPO whose completions are the single steps after a shared correct prefix
 * (the batch builder masks the prefix). Same formula as dpoLoss, with Step-DPO's own β as the default —
 * 0.4, the paper's value for models below 72B (the released 7B script uses 0.5; methods.md §2.2, §10.5).
 */
export function stepDpoLoss(sums: PairedSums, options?: DpoOptions): LossResult {
  return marginLoss(sums, undefined, { ...options, beta: options?.beta ?? STEP_DPO_DEFAULTS.beta });
}
export const STEP_DPO_DEFAULTS = { beta: 0.4, labelSmoothing: 0 } as const;

export interface FixedMarginOptions extends DpoOptions {
  /** The margin m subtracted inside the sigmoid, the same for every pair: −log σ(β·h − m). Default 0. */
  margin?: number;
}

/** DPO with one fixed margin for every pair (an ablation of SPPD's dynamic margin). */
export function fixedMarginDpoLoss(sums: PairedSums, options?: FixedMarginOptions): LossResult {
  const m = checkNumber('options.margin', options?.margin ?? 0, () => true, 'a finite number');
  const p = (sums.policy?.length ?? 0) >> 1;
  return marginLoss(sums, new Float64Array(p).fill(m), options);
}

export interface SppdOptions extends DpoOptions {
  /**
   * γ scaling the value gap: m_p = γ·(V_w − V_l). Default 1.0: the middle of the paper's grid {0.1, 0.5, 1, 2, 5}
   * (its best value per model is not stated) and the value of methods.md §12.2. γ = 0 is Step-DPO.
   */
  gamma?: number;
}
export const SPPD_DEFAULTS = { beta: 0.1, gamma: 1.0, labelSmoothing: 0 } as const;

/**
 * SPPD step-DPO with a dynamic value margin (methods.md §3.1, Eq. 5 as written — the margin is SUBTRACTED,
 * §10.1): mean_p −log σ(β·h_p − γ·(V_w,p − V_l,p)). `values` holds V*(s^w), V*(s^l) per pair in the [2P]
 * layout (the PRM scores of the two sibling states).
 */
export function sppdLoss(sums: PairedSums, values: ArrayLike<number>, options?: SppdOptions): LossResult {
  const gamma = checkNumber('options.gamma', options?.gamma ?? SPPD_DEFAULTS.gamma, (g) => g >= 0, 'a finite number >= 0');
  const n = sums.policy?.length ?? 0;
  checkArray('values', values, n);
  const margin = new Float64Array(n >> 1);
  for (let i = 0; i < margin.length; i++) margin[i] = gamma * (values[2 * i] - values[2 * i + 1]);
  return marginLoss(sums, margin, options);
}

export interface IpoOptions extends KernelChoice {
  /** β: the loss pulls the length-normalised log-ratio gap h̄ toward 1/(2β). Default 0.1 (target 5). */
  beta?: number;
}
export const IPO_DEFAULTS = { beta: 0.1 } as const;

/**
 * IPO (Azar et al. 2023): mean_p (h̄_p − 1/(2β))² where h̄ uses per-token AVERAGE log-probs, as TRL's
 * `ipo` does — `tokens` gives each sequence's completion token count ([2P], ≥ 1). Gradients are returned
 * with respect to the SUMS (dL/dsum = dL/davg / count) so they feed the same backward as the other losses.
 */
export function ipoLoss(sums: PairedSums, tokens: ArrayLike<number>, options?: IpoOptions): LossResult {
  const beta = checkNumber('options.beta', options?.beta ?? IPO_DEFAULTS.beta, (b) => b > 0, 'a finite number > 0');
  const n = checkArray('sums.policy', sums.policy).length;
  checkArray('sums.reference', sums.reference, n);
  checkArray('tokens', tokens, n);
  const avg = { policy: new Float64Array(n), reference: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(tokens[i]) || tokens[i] < 1) throw new ArgumentError(`tokens[${i}]`, 'an integer >= 1', tokens[i]);
    avg.policy[i] = sums.policy[i] / tokens[i];
    avg.reference[i] = sums.reference[i] / tokens[i];
  }
  const k = kernelsOf(options);
  const split = splitPairs(avg, { policy: 'sums.policy', reference: 'sums.reference' });
  const p = n / 2;
  const r = k.dpo(split, { beta, labelSmoothing: 0, lossType: 'ipo', gradScale: p === 0 ? 1 : 1 / p });
  const gradStep = interleaveGrad(k, r.gradChosen);
  for (let i = 0; i < n; i++) gradStep[i] /= tokens[i];
  return { loss: r.meanLoss, gradStep, metrics: metricsOf(r, p) };
}
