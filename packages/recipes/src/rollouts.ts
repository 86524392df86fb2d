/**
 * Batched whole-solution sampling: many (problem, prefix) starts advance together, one policy call per depth
 * for every unfinished solution, so the engine decodes them as one batch. Used for Monte-Carlo step values
 * (every tree node's rollouts at once), the solution samplers, and greedy / MAJ@N evaluation.
 *
 * Determinism: starts are cut into fixed chunks and each call's seed is a function of (seed, chunk, depth),
 * so the same inputs give the same solutions whatever ran before (the resume tests rely on it).
 */
import { hash32, type Problem, type ScoredTree, type Tree } from '@stepwise/core';
import type { Judge, Policy, SampleOptions, StepScorer } from '@stepwise/search';

export interface Start {
  problem: Problem;
  prefix: readonly string[];
}

export interface Rollout {
  steps: string[];
  /** Steps generated after the prefix. */
  generated: number;
  tokens: number;
  answer: string | null;
  correct: boolean;
}

export interface RolloutOptions {
  sampling: SampleOptions;
  /** Depth limit counted from the root (prefix steps included). */
  maxDepth: number;
  seed: number | string;
  /** Starts decoded together. Default 256. */
  chunk?: number;
}

export async function rollouts(policy: Policy, judge: Judge, starts: readonly Start[], o: RolloutOptions): Promise<Rollout[]> {
  const chunk = o.chunk ?? 256;
  const base = typeof o.seed === 'number' ? o.seed >>> 0 : hash32(o.seed);
  const out: Rollout[] = [];
  for (let at = 0; at < starts.length; at += chunk) {
    const live = starts.slice(at, at + chunk).map((s) => ({ problem: s.problem, steps: [...s.prefix], generated: 0, handle: undefined as unknown, tokens: 0, done: s.prefix.length >= o.maxDepth || endsSolution(judge, s) }));
    for (let depth = 0; ; depth++) {
      const open = live.filter((s) => !s.done);
      if (open.length === 0) break;
      const seed = hash32(`${base}/${at}/${depth}`);
      const res = await policy.expand(open.map((s) => ({ problem: s.problem, steps: s.steps, handle: s.handle })), 1, { ...o.sampling, seed });
      const left: unknown[] = [];
      open.forEach((s, i) => {
        const c = res[i][0];
        if (s.handle !== undefined) left.push(s.handle);
        s.steps.push(c.text);
        s.generated++;
        s.tokens += c.tokenIds.length;
        s.handle = c.handle;
        s.done = c.terminal || s.steps.length >= o.maxDepth;
      });
      policy.release?.(left);
    }
    policy.release?.(live.map((s) => s.handle));
    for (const s of live) {
      const v = judge.judge(s.problem, s.steps);
      out.push({ steps: s.steps, generated: s.generated, tokens: s.tokens, answer: v.answer, correct: v.correct });
    }
  }
  return out;
}

/**
 * A prefix whose last step states the final answer needs no rollout (it is its own outcome). Not
 * `judge(...).answer !== null`: the grader reads the last number of any text, so every prefix would end there.
 */
function endsSolution(judge: Judge, s: Start): boolean {
  return judge.finished(s.problem, s.prefix);
}

/**
 * Monte-Carlo values of every node of a tree (Math-Shepherd soft labels, methods.md §11.4): the fraction of
 * `n` rollouts from the node's state that reach the gold answer. Terminal nodes are valued by their own
 * correctness. The scorer sees only final answers, never the oracle's step checker.
 */
export async function monteCarloTreeValues(policy: Policy, judge: Judge, problem: Problem, tree: Tree, n: number, o: Omit<RolloutOptions, 'seed'> & { seed: string }): Promise<(number | null)[]> {
  const value: (number | null)[] = tree.parent.map(() => null);
  const stepsTo = (node: number): string[] => {
    const path: string[] = [];
    for (let i = node; i > 0; i = tree.parent[i]) path.push(tree.text[i]);
    return path.reverse();
  };
  const starts: Start[] = [];
  const owner: number[] = [];
  for (let i = 1; i < tree.parent.length; i++) {
    if (tree.terminal[i]) {
      value[i] = tree.correct[i] ? 1 : 0;
      continue;
    }
    const prefix = stepsTo(i);
    for (let k = 0; k < n; k++) (starts.push({ problem, prefix }), owner.push(i));
  }
  const rs = await rollouts(policy, judge, starts, { ...o, seed: `${o.seed}/mc/${problem.id}` });
  const hits = new Map<number, number>();
  rs.forEach((r, j) => hits.set(owner[j], (hits.get(owner[j]) ?? 0) + (r.correct ? 1 : 0)));
  for (const [node, h] of hits) value[node] = h / n;
  return value;
}

/** Outcome labels (Full-Step-DPO's N = 1): a node's value is the mean correctness of the walks through it. */
export function outcomeTreeValues(tree: Tree): (number | null)[] {
  const sum = tree.parent.map(() => 0);
  const cnt = tree.parent.map(() => 0);
  for (let leaf = 1; leaf < tree.parent.length; leaf++) {
    if (!tree.terminal[leaf]) continue;
    const c = tree.correct[leaf] ? 1 : 0;
    for (let i = leaf; i > 0; i = tree.parent[i]) (sum[i] += c), cnt[i]++;
  }
  return sum.map((s, i) => (i === 0 || cnt[i] === 0 ? null : s / cnt[i]));
}

export type { ScoredTree };

/**
 * Math-Shepherd soft values of step prefixes for searches that score one candidate at a time (SPHERE's pruned
 * search): each prefix's n rollouts decode as one batch and its value is cached, so scoring a candidate whose
 * ancestors were scored at earlier depths costs only the candidate's own rollouts. Final answers only: a
 * rollout counts when its answer matches the gold one. One instance per problem (the cache is not bounded).
 */
export class MonteCarloPrefixScorer implements StepScorer {
  readonly name: string;
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly policy: Policy,
    private readonly judge: Judge,
    private readonly n: number,
    private readonly o: Omit<RolloutOptions, 'seed'> & { seed: string },
  ) {
    this.name = `mc:n=${n}:soft`;
  }

  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    const out: number[] = [];
    for (let k = 1; k <= steps.length; k++) {
      const prefix = steps.slice(0, k);
      const key = JSON.stringify([problem.id, prefix]);
      let v = this.cache.get(key);
      if (v === undefined) {
        const rs = await rollouts(this.policy, this.judge, Array.from({ length: this.n }, () => ({ problem, prefix })), { ...this.o, seed: `${this.o.seed}/${key}` });
        v = rs.filter((r) => r.correct).length / this.n;
        this.cache.set(key, v);
      }
      out.push(v);
    }
    return out;
  }
}
