/** Step-level AUC of a scorer against the oracle on held-out solutions, with a bootstrap CI over problems. */
import type { StepScorer } from '@stepwise/search';

import { bootstrapAuc, type AucInterval } from './auc.js';
import type { HeldOutSolution } from './labels.js';
import type { PrmScorer } from './scorer.js';

export interface PrmEvaluation extends AucInterval {
  problems: number;
  steps: number;
  /** Fraction of steps the oracle calls good. */
  positiveRate: number;
}

export async function evaluateScorer(scorer: StepScorer | PrmScorer, heldOut: readonly HeldOutSolution[], opts: { resamples?: number; seed?: number | string } = {}): Promise<PrmEvaluation> {
  const scores =
    'scoreMany' in scorer ? await scorer.scoreMany(heldOut) : await Promise.all(heldOut.map((h) => scorer.score(h.problem, h.steps)));
  const groups = heldOut.map((h, i) => ({ scores: scores[i]!, labels: h.oracle }));
  const steps = heldOut.reduce((s, h) => s + h.oracle.length, 0);
  const pos = heldOut.reduce((s, h) => s + h.oracle.reduce((a, b) => a + b, 0), 0);
  return { ...bootstrapAuc(groups, opts), problems: heldOut.length, steps, positiveRate: pos / steps };
}
