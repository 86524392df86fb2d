/**
 * SVPO (Chen et al. 2024): step-DPO on MCTS sibling pairs plus λ times a value-head loss (methods.md §5.4).
 * The value loss is a RECONSTRUCTION — the paper text and training code were not available:
 *
 *   L_V = rank(V_w − V_l; δ) + μ·mean_states (V − Q)²
 *   rank = hinge:    max(0, δ − (V_w − V_l))
 *          logistic: −log σ((V_w − V_l) − δ)   (the dpoMargin kernel with β = 1, refs 0, margin δ)
 *   L   = L_step-DPO + λ·L_V
 *
 * V_w, V_l are the value head's outputs at the last token of s|a_w and s|a_l (tanh range [−1, 1]); Q are the
 * MCTS Q-values of the same states (the StepPair's chosenValue / rejectedValue). Both the ranking term and
 * the MSE are means (over pairs and over the 2P states), so λ trades off per-pair averages.
 */
import { ArgumentError } from '../errors.js';
import { checkArray, checkNumber, kernelsOf, type LossResult, type PairedSums } from './common.js';
import { stepDpoLoss, type DpoOptions } from './dpo.js';

export interface SvpoOptions extends DpoOptions {
  /** λ on the value loss. Default 0.1 — AlphaMath's weight on its value MSE (the same team's code) [reconstruction]. */
  lambda?: number;
  /** δ, the ranking margin between V(s|a_w) and V(s|a_l). Default 0.1 (a twentieth of tanh's range) [reconstruction]. */
  delta?: number;
  /** 'hinge' (default, the form written in methods.md §5.4) or 'logistic' [reconstruction]. */
  rankKind?: 'hinge' | 'logistic';
  /** μ, weight of the MSE inside L_V. Default 1 [reconstruction]. */
  mseWeight?: number;
}

/** β of the step-DPO term defaults to Step-DPO's 0.4 through stepDpoLoss. */
export const SVPO_DEFAULTS = { lambda: 0.1, delta: 0.1, rankKind: 'hinge', mseWeight: 1 } as const;

export interface SvpoInput {
  sums: PairedSums;
  /** Value-head outputs per sequence [2P] (chosen at 2p, rejected at 2p + 1). */
  values: ArrayLike<number>;
  /** Q-value targets per sequence [2P]. */
  q: ArrayLike<number>;
}

export function svpoLoss(input: SvpoInput, options?: SvpoOptions): LossResult {
  const lambda = checkNumber('options.lambda', options?.lambda ?? SVPO_DEFAULTS.lambda, (l) => l >= 0, 'a finite number >= 0');
  const delta = checkNumber('options.delta', options?.delta ?? SVPO_DEFAULTS.delta, () => true, 'a finite number');
  const mu = checkNumber('options.mseWeight', options?.mseWeight ?? SVPO_DEFAULTS.mseWeight, (m) => m >= 0, 'a finite number >= 0');
  const kind = options?.rankKind ?? SVPO_DEFAULTS.rankKind;
  if (kind !== 'hinge' && kind !== 'logistic') throw new ArgumentError('options.rankKind', "'hinge' or 'logistic'", kind);
  const k = kernelsOf(options);
  const policy = stepDpoLoss(input.sums, options);
  const n = input.sums.policy.length;
  const v = checkArray('input.values', input.values, n);
  const q = checkArray('input.q', input.q, n);
  const p = n / 2;

  const gradValue = k.array(n);
  let rank = 0;
  if (kind === 'hinge') {
    for (let i = 0; i < p; i++) {
      const slack = delta - (v[2 * i] - v[2 * i + 1]);
      if (slack > 0) {
        rank += slack / p;
        // d/dV_w of max(0, δ − (V_w − V_l)) is −1 inside the margin; the kink (slack = 0) takes 0.
        gradValue[2 * i] -= lambda / p;
        gradValue[2 * i + 1] += lambda / p;
      }
    }
  } else if (p > 0) {
    const chosen = new Float64Array(p);
    const rejected = new Float64Array(p);
    for (let i = 0; i < p; i++) (chosen[i] = v[2 * i]), (rejected[i] = v[2 * i + 1]);
    const zeros = new Float64Array(p);
    const r = k.dpo(
      { policyChosen: chosen, policyRejected: rejected, refChosen: zeros, refRejected: zeros, margin: new Float64Array(p).fill(delta) },
      { beta: 1, labelSmoothing: 0, lossType: 'sigmoid', gradScale: lambda / p },
    );
    rank = r.meanLoss;
    for (let i = 0; i < p; i++) (gradValue[2 * i] += r.gradChosen[i]), (gradValue[2 * i + 1] -= r.gradChosen[i]);
  }
  let mse = 0;
  for (let i = 0; i < n; i++) {
    const e = v[i] - q[i];
    mse += (e * e) / n;
    gradValue[i] += (lambda * mu * 2 * e) / n;
  }
  const valueLoss = rank + mu * mse;
  return {
    loss: policy.loss + lambda * valueLoss,
    gradStep: policy.gradStep,
    gradValue,
    metrics: { ...policy.metrics, policyLoss: policy.loss, valueLoss, rankLoss: rank, valueMse: mse },
  };
}
