/**
 * Held-out evaluation protocols (methods.md §8): greedy (temperature 0, one sample), and over N sampled
 * solutions MAJ@N (majority answer), ORM_VOTE@N (answers weighted by an outcome scorer), ORM_MAX@N (answer of
 * the best-scored solution). Answers are clustered and graded by the Judge (the core grader), never by raw
 * strings. Every accuracy comes with a 95% Wilson interval; per-problem correctness is kept so two models can
 * be compared on the same problems (pairedDifference).
 */
import type { Problem } from '@stepwise/core';
import { aggregate, sampleSolutions, type Judge, type Policy, type StepScorer } from '@stepwise/search';

import { wilson, type Interval } from './stats.js';

export type Protocol = 'greedy' | 'maj' | 'orm-vote' | 'orm-max';

export interface EvalOptions {
  /** Protocols to run. Default ['greedy', 'maj']. ORM protocols need `orm`. */
  protocols?: Protocol[];
  /** N for the voting protocols. Default 8. */
  samples?: number;
  /** Sampling temperature for the N samples. Default 1. */
  temperature?: number;
  /** Depth limit (steps) per solution. Default 12. */
  maxDepth?: number;
  /** Outcome scorer for ORM protocols: a solution's score is the value of its last step. */
  orm?: StepScorer;
  seed?: number | string;
  onProgress?: (done: number, total: number) => void;
}

export interface ProblemResult {
  problemId: string;
  /** Correctness under each protocol that ran. */
  correct: Partial<Record<Protocol, boolean>>;
  /** The answer each protocol chose (null: no answer found). */
  answers: Partial<Record<Protocol, string | null>>;
  /** Fraction of the N samples that were correct (the sampling accuracy), when samples ran. */
  sampleAccuracy?: number;
  tokens: number;
}

export interface EvalReport {
  results: ProblemResult[];
  /** Accuracy with a 95% Wilson interval per protocol. */
  accuracy: Partial<Record<Protocol, Interval>>;
  /** Mean sampling accuracy over problems (each problem's N samples), with its Wilson interval over all samples. */
  sampling?: Interval;
  protocols: Protocol[];
  samples: number;
}

export async function evaluate(problems: readonly Problem[], policy: Policy, judge: Judge, opts: EvalOptions = {}): Promise<EvalReport> {
  const protocols = opts.protocols ?? ['greedy', 'maj'];
  const n = opts.samples ?? 8;
  if (protocols.some((p) => p.startsWith('orm')) && !opts.orm) {
    throw new RangeError("evaluate protocols: 'orm-vote'/'orm-max' need opts.orm (an outcome scorer)");
  }
  const needSamples = protocols.some((p) => p !== 'greedy');
  const results: ProblemResult[] = [];
  let sampleHits = 0;
  let sampleTotal = 0;
  for (const [i, problem] of problems.entries()) {
    const r: ProblemResult = { problemId: problem.id, correct: {}, answers: {}, tokens: 0 };
    if (protocols.includes('greedy')) {
      const [g] = await sampleSolutions(problem, policy, judge, 1, { maxDepth: opts.maxDepth, sampling: { temperature: 0 }, seed: `${opts.seed ?? 0}/greedy` });
      r.correct.greedy = g.correct;
      r.answers.greedy = g.answer;
      r.tokens += g.tokens;
    }
    if (needSamples) {
      const sols = await sampleSolutions(problem, policy, judge, n, {
        maxDepth: opts.maxDepth,
        sampling: { temperature: opts.temperature ?? 1 },
        seed: `${opts.seed ?? 0}/samples`,
      });
      const hits = sols.filter((s) => s.correct).length;
      r.sampleAccuracy = hits / n;
      sampleHits += hits;
      sampleTotal += n;
      r.tokens += sols.reduce((a, s) => a + s.tokens, 0);
      const orm = opts.orm ? await Promise.all(sols.map(async (s) => (await opts.orm!.score(problem, s.steps)).at(-1) ?? 0)) : [];
      const cands = sols.map((s, k) => ({ answer: s.answer, orm: orm[k] }));
      for (const p of protocols) {
        if (p === 'greedy') continue;
        const answer = aggregate(cands, p, judge.same);
        r.answers[p] = answer;
        r.correct[p] = answer !== null && judge.same(answer, problem.answer);
      }
    }
    results.push(r);
    opts.onProgress?.(i + 1, problems.length);
  }
  const accuracy: Partial<Record<Protocol, Interval>> = {};
  for (const p of protocols) accuracy[p] = wilson(results.filter((r) => r.correct[p]).length, results.length);
  return {
    results,
    accuracy,
    sampling: needSamples ? wilson(sampleHits, sampleTotal) : undefined,
    protocols,
    samples: n,
  };
}

/** Per-problem correctness vector of one protocol, in problem order (for paired comparisons). */
export function correctness(report: EvalReport, protocol: Protocol): boolean[] {
  return report.results.map((r) => {
    const c = r.correct[protocol];
    if (c === undefined) throw new RangeError(`correctness: protocol '${protocol}' did not run in this report`);
    return c;
  });
}
