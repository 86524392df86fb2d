/**
 * Step scorers: one value per step prefix (architecture.md §4). The learned value/PRM head lives with the
 * engine; the embedded task's exact oracle lives with the task. Here: Monte-Carlo rollouts (Math-Shepherd),
 * the outcome label (Full-Step-DPO's N = 1), and an adapter for any external PRM.
 */
import type { Problem } from '@stepwise/core';

import { sampleSolutions, type SampleSolutionsOptions } from './best-of-n.js';
import { type Judge, type Policy, type StepScorer, SearchConfigError, requireInt } from './policy.js';

export interface MonteCarloOptions extends SampleSolutionsOptions {
  /** Rollouts per step prefix. Default 8 (Math-Shepherd). */
  rollouts?: number;
  /** 'hard': 1 if any rollout reaches the gold answer; 'soft': the fraction that do. Default 'soft'. */
  label?: 'hard' | 'soft';
}

/**
 * Math-Shepherd Monte-Carlo values (methods.md §11.4): for each prefix steps[0..k], sample N completions;
 * hard label = any correct, soft = fraction correct. A prefix that already ends the solution is valued by
 * its own correctness (no rollouts needed).
 */
export class MonteCarloScorer implements StepScorer {
  readonly name: string;
  private readonly rollouts: number;
  private readonly label: 'hard' | 'soft';

  constructor(
    private readonly policy: Policy,
    private readonly judge: Judge,
    private readonly opts: MonteCarloOptions = {},
  ) {
    this.rollouts = opts.rollouts ?? 8;
    this.label = opts.label ?? 'soft';
    requireInt('rollouts', this.rollouts, 1);
    this.name = `mc:n=${this.rollouts}:${this.label}`;
  }

  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    const values: number[] = [];
    for (let k = 0; k < steps.length; k++) {
      const prefix = steps.slice(0, k + 1);
      // A prefix that states its final answer is its own outcome; any other prefix is rolled out.
      if (k === steps.length - 1 && this.judge.finished(problem, prefix)) {
        values.push(this.judge.judge(problem, prefix).correct ? 1 : 0);
        continue;
      }
      const sols = await sampleSolutions(problem, this.policy, this.judge, this.rollouts, { ...this.opts, seed: `${this.opts.seed ?? 0}/${k}` }, prefix);
      const hits = sols.filter((s) => s.correct).length;
      values.push(this.label === 'hard' ? (hits > 0 ? 1 : 0) : hits / sols.length);
    }
    return values;
  }
}

/**
 * Full-Step-DPO's self-supervised labels with N = 1 (methods.md §4.1): the sampled solution is its own single
 * rollout, so every step gets that solution's final correctness (1 / 0).
 */
export class OutcomeLabelScorer implements StepScorer {
  readonly name = 'outcome:n=1';
  constructor(private readonly judge: Judge) {}
  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    const v = this.judge.judge(problem, steps).correct ? 1 : 0;
    return steps.map(() => v);
  }
}

/** Wraps any function returning per-step probabilities (an external PRM), validating what it returns. */
export class ExternalPrmScorer implements StepScorer {
  constructor(
    readonly name: string,
    private readonly fn: (problem: Problem, steps: readonly string[]) => Promise<number[]> | number[],
  ) {}
  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    const out = await this.fn(problem, steps);
    if (!Array.isArray(out) || out.length !== steps.length) {
      throw new SearchConfigError(`external PRM '${this.name}': expected ${steps.length} values (one per step), got ${Array.isArray(out) ? out.length : typeof out}`);
    }
    out.forEach((v, i) => {
      if (!(v >= 0 && v <= 1)) throw new SearchConfigError(`external PRM '${this.name}': value[${i}] = ${v}, expected a probability in [0, 1]`);
    });
    return out;
  }
}

/** Scores every node of a tree by scoring each root-to-node path once (values of a node are shared by all paths through it). */
export async function scoreTreeNodes(
  scorer: StepScorer,
  problem: Problem,
  parent: readonly number[],
  text: readonly string[],
  terminal: readonly boolean[],
): Promise<(number | null)[]> {
  const n = parent.length;
  const value: (number | null)[] = new Array(n).fill(null);
  const hasChild = new Array<boolean>(n).fill(false);
  for (let i = 1; i < n; i++) hasChild[parent[i]] = true;
  // Score each leaf's path; it covers every ancestor. Nodes already valued are not re-scored.
  for (let leaf = 1; leaf < n; leaf++) {
    if (hasChild[leaf] && !terminal[leaf]) continue;
    const path: number[] = [];
    for (let i = leaf; i > 0; i = parent[i]) path.push(i);
    path.reverse();
    if (path.every((i) => value[i] !== null)) continue;
    const vs = await scorer.score(problem, path.map((i) => text[i]));
    path.forEach((node, k) => {
      if (value[node] === null) value[node] = vs[k];
    });
  }
  return value;
}
