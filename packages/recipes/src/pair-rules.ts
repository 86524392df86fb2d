/**
 * Which pairs each training stage's data kind takes from one scored tree: the selectors of @stepwise/pairs
 * with the config's thresholds and caps. SVPO's Q-value pairs read the MCTS statistics the tree carries;
 * SPHERE's pairs follow its routes through the pruned-search chains (stats.role, samplers.ts).
 */
import type { PreferencePair, Problem } from '@stepwise/core';
import { firstErrorPairs, outcomePairs, qValuePairs, sentenceLevelPair, sphereRoute, sppdSiblingPairs, topBottomPairs, type Solution, type TreeView } from '@stepwise/pairs';
import type { PairData, PipelineConfig } from './config.js';
import { ROLE } from './samplers.js';

export function selectPairs(c: PipelineConfig, kind: PairData, view: TreeView, problem: Problem): PreferencePair[] {
  const sols = view.solutions();
  switch (kind) {
    case 'sentence': {
      const p = sentenceLevelPair(problem, sols);
      return p ? [p] : [];
    }
    case 'siblings':
      return sppdSiblingPairs(view, problem, { threshold: c.pairs.threshold, maxPerProblem: c.pairs.maxStepPairsPerProblem });
    case 'top-bottom':
      return topBottomPairs(problem, sols, { t: c.pairs.topBottomT });
    case 'outcome':
      return outcomePairs(problem, sols, { maxPerProblem: c.pairs.outcomePerProblem });
    case 'first-error':
      return firstErrorPairs(view, problem).slice(0, c.pairs.maxStepPairsPerProblem);
    case 'q-value':
      // qValuePairs orders by node, largest gaps first within a node; the per-problem cap keeps the first nodes.
      return qValuePairs(view, problem, { minGap: c.pairs.qMinGap, capPerNode: c.pairs.qPairsPerNode }).slice(0, c.pairs.maxStepPairsPerProblem);
    case 'max-min':
      return spherePairs(view, problem, sols);
  }
}

/**
 * SPHERE's routing (methods.md §6): (correct, wrong) max/min → that pair; (wrong, wrong) → the self-correction
 * chain, when correct, is preferred to each wrong one; (correct, correct) → the correct Sol_max is preferred to
 * the weak policy's chain when that one is wrong. A route whose extra search failed gives no pair.
 */
function spherePairs(view: TreeView, problem: Problem, sols: readonly Solution[]): PreferencePair[] {
  const role = view.tree.stats?.role;
  if (!role) return [];
  const chain = (r: number) => sols.find((s) => role[s.nodes.at(-1)!] === r) ?? null;
  const [max, min] = [chain(ROLE.max), chain(ROLE.min)];
  if (!max || !min || max.correct === null || min.correct === null) return [];
  const first = sphereRoute(problem, max, min);
  const pairsOf = (chosen: Solution | null, rejected: readonly Solution[]) => {
    if (!chosen || chosen.correct !== true) return [];
    return rejected.flatMap((w) => {
      const r = w.correct === false ? sphereRoute(problem, chosen, w) : null;
      return r?.route === 'pair' ? [r.pair] : [];
    });
  };
  switch (first.route) {
    case 'pair':
      return [first.pair];
    case 'self-correction':
      return pairsOf(chain(ROLE.correction), first.wrong);
    case 'small-model': {
      const weak = chain(ROLE.weak);
      return weak ? pairsOf(first.correct, [weak]) : [];
    }
  }
}
