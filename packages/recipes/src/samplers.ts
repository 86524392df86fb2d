/**
 * The sample stage's searches, one per `sample.sampler` (docs/search.md): SPPD tree self-sampling, AlphaMath /
 * SVPO MCTS, and SPHERE's max/min pruned search with its routes. Each returns one Tree per problem, so the
 * score → pairs → train stages and the run directory layout are the same for every recipe:
 * - MCTS trees carry their per-node `visits` and `q` (the Q-value pairs read them);
 * - a pruned-search "tree" is one chain per searched solution under the root, each node tagged with its
 *   route (stats.role, ROLE below) and the search's own value of that state (stats.value).
 */
import { appendNode, createTree, type Problem, type Tree } from '@stepwise/core';
import { mcts, prunedSearch, treeSample, type Policy, type PrunedSolution } from '@stepwise/search';
import type { PipelineConfig } from './config.js';
import { judge } from './judge.js';
import { MonteCarloPrefixScorer } from './rollouts.js';

/** stats.role of a pruned-search chain: which search of SPHERE's routing wrote it. */
export const ROLE = { max: 1, min: 2, correction: 3, weak: 4 } as const;

export interface Sampled {
  tree: Tree;
  tokens: number;
}

export async function sampleProblem(c: PipelineConfig, round: number, policy: Policy, problem: Problem): Promise<Sampled> {
  const s = c.sample;
  const sampling = { temperature: s.temperature, maxStepTokens: s.maxStepTokens };
  const seed = `${c.seed}/r${round}/sample`;
  switch (s.sampler) {
    case 'tree': {
      const r = await treeSample(problem, policy, judge, { iterations: s.iterations, children: s.children, walkers: s.walkers, maxDepth: s.maxDepth, sampling, seed });
      return { tree: r.tree, tokens: r.tokensGenerated };
    }
    case 'mcts': {
      // No value head in the engine: a leaf is valued by one sampled rollout, ±1 by its final answer; terminal
      // children get ±1 against the gold answer (data-generation mode, methods.md §5.2).
      const r = await mcts(problem, policy, judge, null, { iterations: s.iterations, cPuct: s.cPuct, width: s.children, maxDepth: s.maxDepth, leafEvaluation: 'rollout', terminalRewards: true, sampling, seed });
      return { tree: r.tree, tokens: r.tree.tokenCount.reduce((a, b) => a + b, 0) };
    }
    case 'pruned':
      return sphereSample(c, round, policy, problem);
  }
}

/**
 * SPHERE (methods.md §6, §7.3): Sol_max and Sol_min from the pruned search, then by their outcomes
 * (wrong, wrong) → a self-correction re-search of the max branch (a fresh seed: the embedded model was never
 * trained to follow a reflection instruction, so none is prepended); (correct, correct) → the weaker policy
 * (the same model at sample.weakTemperature, 2E candidates) searches the min branch for a wrong solution.
 */
async function sphereSample(c: PipelineConfig, round: number, policy: Policy, problem: Problem): Promise<Sampled> {
  const s = c.sample;
  const scorer = new MonteCarloPrefixScorer(policy, judge, c.score.rollouts, { sampling: { temperature: c.score.temperature, maxStepTokens: s.maxStepTokens }, maxDepth: s.maxDepth, seed: `${c.seed}/r${round}/mc` });
  const opts = { candidates: s.children, temperature: s.temperature, maxDepth: s.maxDepth, sampling: { maxStepTokens: s.maxStepTokens }, seed: `${c.seed}/r${round}/pruned` };
  const tree = createTree(problem.id);
  let tokens = 0;
  const add = (sol: PrunedSolution, role: number) => {
    tokens += sol.tokens;
    let parent = 0;
    sol.steps.forEach((text, i) => {
      const last = i === sol.steps.length - 1;
      // The last step ends the solution even when the depth limit stopped the search (judged as it stands).
      parent = appendNode(tree, parent, { text, terminal: last, answer: last ? sol.answer : null, correct: last ? sol.correct : null, stats: { role, value: sol.values[i] } });
    });
  };
  const max = await prunedSearch(problem, policy, scorer, judge, 'max', opts);
  const min = await prunedSearch(problem, policy, scorer, judge, 'min', opts);
  add(max, ROLE.max);
  add(min, ROLE.min);
  if (!max.correct && !min.correct) {
    add(await prunedSearch(problem, policy, scorer, judge, 'max', { ...opts, seed: `${opts.seed}/correction` }), ROLE.correction);
  } else if (max.correct && min.correct) {
    add(await prunedSearch(problem, policy, scorer, judge, 'min', { ...opts, candidates: 2 * s.children, temperature: s.weakTemperature, seed: `${opts.seed}/weak` }), ROLE.weak);
  }
  return { tree, tokens };
}

/** How many problems took each SPHERE route (from the chains' roles). */
export function sphereRouteCounts(trees: readonly Tree[]): Record<string, number> {
  const has = (t: Tree, role: number) => t.stats?.role?.includes(role) ?? false;
  return {
    routePair: trees.filter((t) => !has(t, ROLE.correction) && !has(t, ROLE.weak)).length,
    routeSelfCorrection: trees.filter((t) => has(t, ROLE.correction)).length,
    routeWeakPolicy: trees.filter((t) => has(t, ROLE.weak)).length,
  };
}
