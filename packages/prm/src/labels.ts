/**
 * Training data with Full-Step-DPO's self-supervised N = 1 labels (methods.md §4.1): a solution is its own single
 * rollout, so every step gets the solution's final-answer correctness. No step-level supervision is used; the
 * held-out evaluation set carries the oracle's step values (stepValues) only for measuring AUC.
 */
import { Rng, type Problem } from '@stepwise/core';
import { answerJudge, type Judge } from '@stepwise/search';
import { corpus, imperfectSolution, parseQuestion, stepValues, testSplit, type CorpusOptions, type Level } from '@stepwise/tasks';

import type { PrmExample } from './encode.js';
import { PrmArgumentError } from './errors.js';

/** N = 1 outcome labels: steps.length copies of the solution's final correctness (1 / 0), judged by `judge`. */
export function outcomeLabels(problem: Problem, steps: readonly string[], judge: Judge = answerJudge()): number[] {
  if (!Array.isArray(steps)) throw new PrmArgumentError('steps', 'an array of step strings', typeof steps);
  const v = judge.judge(problem, steps).correct ? 1 : 0;
  return steps.map(() => v);
}

/** Sampled (or otherwise produced) solutions labelled with outcomeLabels. */
export function outcomeExamples(solutions: readonly { problem: Problem; steps: readonly string[] }[], judge: Judge = answerJudge()): PrmExample[] {
  return solutions.map((s) => ({ problem: s.problem, steps: s.steps, labels: outcomeLabels(s.problem, s.steps, judge) }));
}

/**
 * Corpus records [offset, offset + count) as N = 1 examples. The label is graded from the solution text by the
 * judge (the same grader as for sampled solutions), not read from the record's bookkeeping.
 */
export function corpusExamples(options: CorpusOptions, count: number, offset = 0, judge: Judge = answerJudge()): PrmExample[] {
  return outcomeExamples([...corpus(options, count, offset)], judge);
}

/** A held-out solution with the oracle's step values (1 iff every step so far is correct). */
export interface HeldOutSolution {
  problem: Problem;
  steps: string[];
  oracle: number[];
}

export interface HeldOutOptions {
  levels?: readonly Level[];
  /** Test-split problems per level (the first ones of the fixed split). Default 200. */
  perLevel?: number;
  /** Corpus-style per-step error rate of the imperfect solutions. Default 0.15. */
  errorRate?: number;
  /** Seed of the solutions (the problems are fixed by the split). Default 0. */
  seed?: number | string;
}

/** The fixed test split's problems, each with one corpus-style imperfect solution and its oracle values. */
export function heldOutSolutions(opts: HeldOutOptions = {}): HeldOutSolution[] {
  const levels = opts.levels ?? [1, 2, 3, 4];
  const perLevel = opts.perLevel ?? 200;
  const errorRate = opts.errorRate ?? 0.15;
  if (!Number.isInteger(perLevel) || perLevel < 1) throw new PrmArgumentError('perLevel', 'a positive integer', perLevel);
  const rng = new Rng(`prm-heldout|${opts.seed ?? 0}`);
  const out: HeldOutSolution[] = [];
  for (const level of levels)
    for (const problem of testSplit(level, perLevel)) {
      const sol = imperfectSolution(parseQuestion(problem.question), rng.split(problem.id), { errorRate });
      out.push({ problem, steps: sol.steps, oracle: stepValues(problem, sol.steps) });
    }
  return out;
}
