/**
 * Accuracy of a policy on the embedded task's fixed test split: greedy (temperature 0, methods.md §8
 * Greedy-CoT) and sampled (one solution per problem at a given temperature). Answers are graded by search's
 * answerJudge (the core grader every label uses); the oracle checker adds whether every step was right.
 *
 * Problems are solved together: one policy call per depth covers every unfinished solution of a chunk, so the
 * engine decodes them as one batch.
 */
import type { Problem } from '@stepwise/core';
import { answerJudge, type Judge, type Policy, type SampleOptions } from '@stepwise/search';
import { checkSolution, type Level, testSplit } from '@stepwise/tasks';

import { requireNonNegInt, requirePosInt, requireRange } from './errors.js';
import { wilson } from '@stepwise/eval';

export interface SolveResult {
  problem: Problem;
  steps: string[];
  answer: string | null;
  correct: boolean;
  /** Every step right per the oracle checker (stricter than `correct`). */
  processCorrect: boolean;
  tokens: number;
}

export interface SolveOptions {
  sampling: SampleOptions;
  /** Depth limit in steps. Default 12. */
  maxDepth?: number;
  /** Problems decoded together. Default 128. */
  chunk?: number;
  judge?: Judge;
}

/** One solution per problem; states advance together, parents' caches are released as soon as they are left. */
export async function solveAll(policy: Policy, problems: readonly Problem[], opts: SolveOptions): Promise<SolveResult[]> {
  const maxDepth = requirePosInt('maxDepth', opts.maxDepth ?? 12);
  const chunk = requirePosInt('chunk', opts.chunk ?? 128);
  const judge = opts.judge ?? answerJudge();
  const baseSeed = requireNonNegInt('sampling.seed', opts.sampling.seed ?? 0);
  const out: SolveResult[] = [];
  for (let start = 0; start < problems.length; start += chunk) {
    const live = problems.slice(start, start + chunk).map((problem) => ({ problem, steps: [] as string[], handle: undefined as unknown, tokens: 0, done: false }));
    for (let depth = 0; depth < maxDepth; depth++) {
      const open = live.filter((s) => !s.done);
      if (open.length === 0) break;
      // The seed differs per chunk and depth, so no two calls replay the same random stream.
      const seed = (baseSeed + start * 7919 + depth * 104729) % 2 ** 32;
      const res = await policy.expand(open.map((s) => ({ problem: s.problem, steps: s.steps, handle: s.handle })), 1, { ...opts.sampling, seed });
      const left: unknown[] = [];
      open.forEach((s, i) => {
        const c = res[i][0];
        if (s.handle !== undefined) left.push(s.handle);
        s.steps.push(c.text);
        s.tokens += c.tokenIds.length;
        s.handle = c.handle;
        s.done = c.terminal;
      });
      policy.release?.(left);
    }
    policy.release?.(live.map((s) => s.handle));
    for (const s of live) {
      const v = judge.judge(s.problem, s.steps);
      out.push({ problem: s.problem, steps: s.steps, answer: v.answer, correct: v.correct, processCorrect: checkSolution(s.problem, s.steps).correct, tokens: s.tokens });
    }
  }
  return out;
}

export interface LevelAccuracy {
  level: Level;
  mode: string;
  n: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
  /** Fraction whose every step is right (oracle checker). */
  processAccuracy: number;
  meanTokens: number;
}

export interface EvaluateOptions {
  levels?: readonly Level[];
  /** Test problems per level (the first `count` of the fixed split). Default 200. */
  count?: number;
  /** Sampling temperatures besides greedy. Default [1]. */
  temperatures?: readonly number[];
  seed?: number;
  maxDepth?: number;
  chunk?: number;
  onLevel?: (r: LevelAccuracy) => void;
}

/** Greedy and sampled accuracy per level on the test split, each with a 95% Wilson interval. */
export async function evaluateOnTestSplit(policy: Policy, opts: EvaluateOptions = {}): Promise<LevelAccuracy[]> {
  const levels = opts.levels ?? [1, 2, 3, 4];
  const count = requirePosInt('count', opts.count ?? 200);
  const temps = opts.temperatures ?? [1];
  temps.forEach((t, i) => requireRange(`temperatures[${i}]`, t, 0, 100));
  const rows: LevelAccuracy[] = [];
  for (const level of levels) {
    const problems = testSplit(level, count);
    for (const temperature of [0, ...temps]) {
      const res = await solveAll(policy, problems, { sampling: { temperature, seed: opts.seed ?? 0 }, maxDepth: opts.maxDepth, chunk: opts.chunk });
      const correct = res.filter((r) => r.correct).length;
      const row: LevelAccuracy = {
        level,
        mode: temperature === 0 ? 'greedy' : `sample T=${temperature}`,
        n: res.length,
        correct,
        accuracy: correct / res.length,
        ci95: ((w) => [w.lo, w.hi] as [number, number])(wilson(correct, res.length)),
        processAccuracy: res.filter((r) => r.processCorrect).length / res.length,
        meanTokens: res.reduce((a, r) => a + r.tokens, 0) / res.length,
      };
      rows.push(row);
      opts.onLevel?.(row);
    }
  }
  return rows;
}
