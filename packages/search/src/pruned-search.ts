/**
 * SPHERE's max/min pruned search (methods.md §6.1, §7.3): at each depth sample E candidate steps, score each
 * with the PRM, and follow only the best (Sol_max) or only the worst (Sol_min) until a terminal step or the
 * depth limit. The reward is the PRM value of the new state, or (option) the advantage
 * R(s_t) = PRM(s_t) − PRM(s_{t−1}) — the paper's formula was not recovered (methods.md §10.8).
 */
import { Rng, type Problem } from '@stepwise/core';

import { type Judge, type Policy, type SampleOptions, type StepScorer, requireInt } from './policy.js';

export interface PrunedSearchOptions {
  /** E: candidates sampled per depth. Default 5 (SPHERE; the small model uses 10). */
  candidates?: number;
  /** Sampling temperature for the candidates. Default 0.8 (SPHERE). */
  temperature?: number;
  /** Depth limit. Default 12. */
  maxDepth?: number;
  /** 'value': R = PRM(s_t); 'advantage': R = PRM(s_t) − PRM(s_{t−1}) (PRM(s_0) of the first step alone). Default 'value'. */
  reward?: 'value' | 'advantage';
  /** Extra text prepended to the question for the search (SPHERE's self-correction reflection prompt). */
  instruction?: string;
  sampling?: Omit<SampleOptions, 'temperature'>;
  seed?: number | string;
}

export interface PrunedSolution {
  steps: string[];
  /** PRM value of the state after each step. */
  values: number[];
  answer: string | null;
  correct: boolean;
  tokens: number;
}

export async function prunedSearch(
  problem: Problem,
  policy: Policy,
  scorer: StepScorer,
  judge: Judge,
  branch: 'max' | 'min',
  opts: PrunedSearchOptions = {},
): Promise<PrunedSolution> {
  const E = opts.candidates ?? 5;
  const maxDepth = opts.maxDepth ?? 12;
  requireInt('candidates', E, 1);
  requireInt('maxDepth', maxDepth, 1);
  const rng = new Rng(opts.seed ?? 0).split(`pruned/${branch}/${problem.id}`);
  const searched: Problem = opts.instruction ? { ...problem, question: `${opts.instruction}\n${problem.question}` } : problem;
  const steps: string[] = [];
  const values: number[] = [];
  let tokens = 0;
  let handle: unknown;
  for (let depth = 0; depth < maxDepth; depth++) {
    const [cands] = await policy.expand([{ problem: searched, steps, handle }], E, {
      ...opts.sampling,
      temperature: opts.temperature ?? 0.8,
      seed: rng.nextUint32(),
    });
    const prev = values.length > 0 ? values[values.length - 1] : 0;
    let pick = -1;
    let pickReward = 0;
    let pickValue = 0;
    for (let i = 0; i < cands.length; i++) {
      tokens += cands[i].tokenLogprobs.length;
      const vs = await scorer.score(problem, [...steps, cands[i].text]);
      const v = vs[vs.length - 1];
      const r = opts.reward === 'advantage' && depth > 0 ? v - prev : v;
      if (pick < 0 || (branch === 'max' ? r > pickReward : r < pickReward)) {
        pick = i;
        pickReward = r;
        pickValue = v;
      }
    }
    steps.push(cands[pick].text);
    values.push(pickValue);
    handle = cands[pick].handle;
    if (cands[pick].terminal) break;
  }
  const verdict = judge.judge(problem, steps);
  return { steps, values, answer: verdict.answer, correct: verdict.correct, tokens };
}
