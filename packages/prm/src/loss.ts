/**
 * The PRM losses over an engine forward (the engine only needs dL/dlog p(target) per row, so the loss is a
 * small TS function, like the engine's maskedCrossEntropy).
 */
import { reference, type ForwardOutput } from '@stepwise/native';

import type { PrmBatchPlan } from './encode.js';
import { PrmArgumentError } from './errors.js';

export interface PrmLoss {
  /** Step loss (mean over labelled steps) + lmWeight * auxiliary LM loss. */
  loss: number;
  /** The step-label part alone. */
  stepLoss: number;
  /** Mean next-token loss on plan.lmRows (0 when there are none). */
  lmLoss: number;
  /** dL/dtokenLogp for model.backward. */
  gradToken: Float64Array;
  /** Labelled steps counted. */
  count: number;
}

/** σ and log(1 + e^x) = −log σ(−x), overflow-free: the float64 reference kernels' own definitions. */
export const sigmoid = reference.sigmoid;
export const softplus = (x: number): number => -reference.logSigmoid(-x);

/**
 * 'ce':  L = -mean_k log p(label_k | prefix), so dL/dlogp = -1/n on each label row.
 * 'bce': with d_k = log p(+) - log p(-) = z+ - z-, p_k = sigmoid(d_k):
 *        L = mean_k [ y_k softplus(-d_k) + (1 - y_k) softplus(d_k) ],  dL/dd_k = (p_k - y_k)/n,
 *        which goes to the '+' row with sign + and to the '-' row with sign -.
 * Plus lmWeight * (mean next-character NLL over plan.lmRows), the optional auxiliary LM term.
 */
export function prmLoss(out: ForwardOutput, plan: PrmBatchPlan, labels: readonly (readonly number[])[], lmWeight = 0): PrmLoss {
  if (!(lmWeight >= 0 && Number.isFinite(lmWeight))) throw new PrmArgumentError('lmWeight', 'a finite number >= 0', lmWeight);
  const lp = out.tokenLogp;
  if (lp.length !== out.batch.tokens.length) throw new PrmArgumentError('out.tokenLogp', `length ${out.batch.tokens.length}`, lp.length);
  if (labels.length !== plan.rowGood.length) throw new PrmArgumentError('labels', `${plan.rowGood.length} label lists`, labels.length);
  let n = 0;
  for (const r of plan.rowGood) n += r.length;
  const gradToken = new Float64Array(lp.length);
  // Auxiliary LM term: -lmWeight * mean log p(next char) over lmRows.
  let lmLoss = 0;
  const m = plan.lmRows.length;
  if (m > 0 && lmWeight > 0) {
    for (const r of plan.lmRows) {
      lmLoss -= lp[r]! / m;
      gradToken[r] = -lmWeight / m;
    }
  }
  if (n === 0) return { loss: lmWeight * lmLoss, stepLoss: 0, lmLoss, gradToken, count: 0 };
  let sum = 0;
  plan.rowGood.forEach((rows, i) => {
    const ys = labels[i]!;
    if (ys.length !== rows.length) throw new PrmArgumentError(`labels[${i}]`, `${rows.length} labels`, ys.length);
    rows.forEach((rg, k) => {
      const y = ys[k]!;
      if (plan.objective === 'ce') {
        sum -= lp[rg]!;
        gradToken[rg] = -1 / n;
        return;
      }
      const rb = plan.rowBad[i]![k]!;
      const d = lp[rg]! - lp[rb]!;
      sum += y * softplus(-d) + (1 - y) * softplus(d);
      const g = (sigmoid(d) - y) / n;
      gradToken[rg] = g;
      gradToken[rb] = -g;
    });
  });
  return { loss: sum / n + lmWeight * lmLoss, stepLoss: sum / n, lmLoss, gradToken, count: n };
}
