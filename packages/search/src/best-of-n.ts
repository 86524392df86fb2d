/**
 * Sampling whole solutions (best-of-N, the DPO and Full-Step-DPO samplers, MC rollouts): all N continue
 * together, one policy call per depth for every unfinished solution.
 */
import { Rng, type Problem } from '@stepwise/core';

import { type Judge, type Policy, type SampleOptions, requireInt } from './policy.js';

export interface SampledSolution {
  steps: string[];
  /** Sum of token log-probs per step under the sampling policy. */
  stepLogprobs: number[];
  tokens: number;
  answer: string | null;
  correct: boolean;
  /** True when the last step was terminal (false: the depth limit cut it). */
  finished: boolean;
}

export interface SampleSolutionsOptions {
  /** Depth limit in steps. Default 12. */
  maxDepth?: number;
  sampling?: SampleOptions;
  seed?: number | string;
}

/** n independent solutions from `prefix` (default: from the question). */
export async function sampleSolutions(
  problem: Problem,
  policy: Policy,
  judge: Judge,
  n: number,
  opts: SampleSolutionsOptions = {},
  prefix: readonly string[] = [],
): Promise<SampledSolution[]> {
  requireInt('n', n, 0);
  const maxDepth = opts.maxDepth ?? 12;
  requireInt('maxDepth', maxDepth, 1);
  const rng = new Rng(opts.seed ?? 0).split(`solutions/${problem.id}/${prefix.length}`);
  const sampling: SampleOptions = { temperature: 1, ...opts.sampling };
  const live = Array.from({ length: n }, () => ({
    steps: [...prefix],
    stepLogprobs: [] as number[],
    tokens: 0,
    done: false,
    handle: undefined as unknown,
  }));
  for (let depth = prefix.length; depth < maxDepth; depth++) {
    const open = live.filter((s) => !s.done);
    if (open.length === 0) break;
    const out = await policy.expand(open.map((s) => ({ problem, steps: s.steps, handle: s.handle })), 1, {
      ...sampling,
      seed: rng.nextUint32(),
    });
    open.forEach((s, i) => {
      const c = out[i][0];
      s.steps.push(c.text);
      s.stepLogprobs.push(c.tokenLogprobs.reduce((a, b) => a + b, 0));
      s.tokens += c.tokenLogprobs.length;
      s.handle = c.handle;
      s.done = c.terminal;
    });
  }
  return live.map((s) => {
    const v = judge.judge(problem, s.steps);
    return { steps: s.steps, stepLogprobs: s.stepLogprobs, tokens: s.tokens, answer: v.answer, correct: v.correct, finished: s.done };
  });
}
