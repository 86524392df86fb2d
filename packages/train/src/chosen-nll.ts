/**
 * The chosen side's negative log-likelihood as a regulariser of any pair loss — RPO / "DPO + NLL" (Pang et al.
 * 2024, Iterative Reasoning Preference Optimization, their Eq. 1 with the NLL normalised by length):
 *
 *   L = L_pair + w · mean_p ( −π_c,p / n_c,p )
 *
 * with π_c,p the chosen completion's log-prob sum of pair p and n_c,p its number of completion tokens.
 * Why: a pair loss only asks that the chosen completion gain on the rejected one; on a small model whose two
 * sibling steps differ in one digit, lowering the rejected digit lowers the chosen one too and moves the mass to
 * a third digit (docs/experiments.md). The NLL term holds the chosen completion's own likelihood up. w = 0 is
 * the loss as the papers write it (every recipe's default).
 */
import { ArgumentError } from './errors.js';
import type { PairLoss } from './step.js';

export function withChosenNll(loss: PairLoss, weight: number): PairLoss {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new ArgumentError('weight', 'a finite number >= 0', weight);
  if (weight === 0) return loss;
  return (ctx) => {
    const inner = loss(ctx);
    const n = ctx.batch.completionTokens.length;
    const pairs = n >> 1;
    const gradStep = inner.gradStep ?? new Float64Array(n);
    if (gradStep.length !== n) throw new ArgumentError('loss.gradStep', `length ${n}`, `length ${gradStep.length}`);
    let nll = 0;
    for (let p = 0; p < pairs; p++) {
      const tokens = ctx.batch.completionTokens[2 * p];
      if (tokens === 0) continue; // an empty chosen completion has no likelihood to keep
      nll += -ctx.sums[2 * p] / tokens / pairs;
      gradStep[2 * p] += -weight / (tokens * pairs);
    }
    return { ...inner, loss: inner.loss + weight * nll, gradStep, metrics: { ...inner.metrics, chosenNll: nll } };
  };
}
