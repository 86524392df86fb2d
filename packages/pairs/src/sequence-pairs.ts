/**
 * Solution-level pair selectors: SPPD's PRM-enhanced sentence-level pair (τ⁺, τ⁻), Full-Step-DPO's top/bottom-T
 * cross pairs, SPHERE's max/min routing and plain DPO's correct/incorrect pairs.
 */
import type { Problem, SequencePair } from '@stepwise/core';

import { PairConfigError } from './step-pairs.js';
import type { Solution } from './tree-view.js';

function sequencePair(problem: Problem, win: Solution, lose: Solution, rule: string): SequencePair {
  return {
    schema: 'stepwise.sequence-pair@1',
    problemId: problem.id,
    prompt: problem.question,
    chosenSteps: win.steps,
    rejectedSteps: lose.steps,
    chosenStepRewards: win.values.map((v) => v ?? Number.NaN).filter((v) => !Number.isNaN(v)),
    rejectedStepRewards: lose.values.map((v) => v ?? Number.NaN).filter((v) => !Number.isNaN(v)),
    rule,
  };
}

function minValue(s: Solution): number {
  let m = Infinity;
  for (const v of s.values) if (v !== null && v < m) m = v;
  return m;
}

function meanValue(s: Solution): number {
  const vs = s.values.filter((v): v is number => v !== null);
  return vs.length === 0 ? Number.NaN : vs.reduce((a, b) => a + b, 0) / vs.length;
}

/**
 * SPPD sentence-level pair (methods.md §3.3): τ⁺ = the correct solution whose weakest step is strongest
 * (argmax_j min_t v), τ⁻ = the incorrect solution with the lowest minimum step value (argmin_j min_t v).
 * null when the problem lacks a correct or an incorrect scored solution. Ties keep the earlier solution.
 */
export function sentenceLevelPair(problem: Problem, solutions: readonly Solution[]): SequencePair | null {
  const best = tauPlus(solutions);
  let worst: Solution | null = null;
  for (const s of scoredOnly(solutions)) if (s.correct === false && (worst === null || minValue(s) < minValue(worst))) worst = s;
  return best && worst ? sequencePair(problem, best, worst, 'sppd-sentence') : null;
}

/**
 * SPPD's τ⁺ alone: the correct scored solution whose weakest step is strongest (argmax_j min_t v; ties keep the
 * earlier one), or null when there is none. SFT needs only this side, so it exists for problems without τ⁻ too.
 */
export function tauPlus(solutions: readonly Solution[]): Solution | null {
  let best: Solution | null = null;
  for (const s of scoredOnly(solutions)) if (s.correct === true && (best === null || minValue(s) > minValue(best))) best = s;
  return best;
}

const scoredOnly = (solutions: readonly Solution[]) => solutions.filter((s) => s.values.some((v) => v !== null));

export interface TopBottomOptions {
  /** Take the T correct solutions with the highest mean step value and the T incorrect with the lowest. Default 4. */
  t?: number;
}

/**
 * Full-Step-DPO pairs (methods.md §4.2): the top-T correct by mean step reward × the bottom-T incorrect,
 * T×T (correct ≻ incorrect) pairs carrying each solution's per-step rewards for the token weights.
 */
export function topBottomPairs(problem: Problem, solutions: readonly Solution[], opts: TopBottomOptions = {}): SequencePair[] {
  const t = opts.t ?? 4;
  if (!Number.isInteger(t) || t < 1) throw new PairConfigError(`t: expected an integer >= 1, got ${t}`);
  const withMean = solutions.map((s) => ({ s, m: meanValue(s) })).filter((x) => !Number.isNaN(x.m));
  const good = withMean.filter((x) => x.s.correct === true).sort((a, b) => b.m - a.m).slice(0, t);
  const bad = withMean.filter((x) => x.s.correct === false).sort((a, b) => a.m - b.m).slice(0, t);
  const pairs: SequencePair[] = [];
  for (const g of good) for (const b of bad) pairs.push(sequencePair(problem, g.s, b.s, 'full-step-dpo-top-bottom'));
  return pairs;
}

export type SphereRoute =
  | { route: 'pair'; pair: SequencePair }
  | { route: 'self-correction'; wrong: Solution[] }
  | { route: 'small-model'; correct: Solution };

/**
 * SPHERE routing (methods.md §6, §7.3) of the two pruned-search solutions: (correct, wrong) → a pair;
 * (wrong, wrong) → self-correction re-search; (correct, correct) → a smaller policy searches for a wrong
 * solution. A (wrong max, correct min) outcome is also a pair, with the correct one preferred.
 */
export function sphereRoute(problem: Problem, solMax: Solution, solMin: Solution): SphereRoute {
  if (solMax.correct === null || solMin.correct === null) {
    throw new PairConfigError('sphereRoute: both solutions must be graded (correct true/false), got null');
  }
  if (solMax.correct && !solMin.correct) return { route: 'pair', pair: sequencePair(problem, solMax, solMin, 'sphere-max-min') };
  if (!solMax.correct && solMin.correct) return { route: 'pair', pair: sequencePair(problem, solMin, solMax, 'sphere-max-min') };
  if (!solMax.correct) return { route: 'self-correction', wrong: [solMax, solMin] };
  return { route: 'small-model', correct: solMax };
}

export interface OutcomePairOptions {
  /** At most this many pairs per problem. Default 1 (DPO baseline: one correct ≻ incorrect pair). */
  maxPerProblem?: number;
}

/** Plain DPO (outcome only): correct ≻ incorrect solutions, interleaved in sampling order, capped. */
export function outcomePairs(problem: Problem, solutions: readonly Solution[], opts: OutcomePairOptions = {}): SequencePair[] {
  const cap = opts.maxPerProblem ?? 1;
  const good = solutions.filter((s) => s.correct === true);
  const bad = solutions.filter((s) => s.correct === false);
  const pairs: SequencePair[] = [];
  for (let i = 0; i < Math.min(good.length, bad.length) && pairs.length < cap; i++) {
    pairs.push(sequencePair(problem, good[i], bad[i], 'dpo-outcome'));
  }
  return pairs;
}
