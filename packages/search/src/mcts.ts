/**
 * MCTS as in AlphaMath / SVPO (methods.md §5.2, §7.2).
 * - Selection: from the root, while the node has children, the non-terminal child maximising
 *   PUCT = Q(c) + c_puct · P(c) · sqrt(N(parent)) / (1 + N(c)) (ties broken at random); when every child is
 *   terminal the node itself becomes terminal and the iteration ends.
 * - Prior P(c) = exp(mean token log-prob) of the sampled step (geometric-mean token probability, not
 *   normalised across siblings, as in the released code).
 * - Expansion: `width` sampled next steps.
 * - Leaf evaluation: a state-value function (value head) or a rollout to a terminal step; terminal children
 *   with a known gold answer are backed up with +1 / −1 (training-data mode).
 * - Backup: W += v, N += 1 on the leaf and every ancestor, no discount (the released code ignores its
 *   `reward_weight` option; so do we).
 */
import { Rng, type Problem, type Tree } from '@stepwise/core';

import {
  type Judge,
  type Policy,
  type SampleOptions,
  SearchConfigError,
  meanLogprob,
  requireInt,
  requireNumber,
} from './policy.js';
import { TreeBuilder } from './tree-builder.js';

/** Value of a state in [−1, 1] (e.g. the value head read at the last step's final token). */
export interface StateValue {
  value(problem: Problem, steps: readonly string[]): Promise<number>;
}

export interface MctsOptions {
  /** Iterations. Default 40 (SVPO / AlphaMath). */
  iterations?: number;
  /** Exploration constant. Default 1.5 (AlphaMath default config; 1.25 in its inference configs). */
  cPuct?: number;
  /** Next steps sampled per expansion (B2). Default 5. */
  width?: number;
  /** Depth at which a child is forced terminal (and, unjudged, scored −1). Default 8. */
  maxDepth?: number;
  /** 'value': the StateValue evaluates leaves; 'rollout': a sampled continuation to the end, ±1 by its answer. */
  leafEvaluation?: 'value' | 'rollout';
  /**
   * Back up ±1 for terminal children by comparing with the gold answer (data generation). Default true.
   * false (inference): terminal children are valued by the evaluator instead.
   */
  terminalRewards?: boolean;
  sampling?: SampleOptions;
  seed?: number | string;
}

export interface MctsResult {
  /** The tree with per-node stats `visits`, `valueSum`, `q`, `prior`, `value`. */
  tree: Tree;
  iterationsRun: number;
}

export async function mcts(
  problem: Problem,
  policy: Policy,
  judge: Judge,
  evaluator: StateValue | null,
  opts: MctsOptions = {},
): Promise<MctsResult> {
  const iterations = opts.iterations ?? 40;
  const cPuct = opts.cPuct ?? 1.5;
  const width = opts.width ?? 5;
  const maxDepth = opts.maxDepth ?? 8;
  const leafEvaluation = opts.leafEvaluation ?? 'value';
  const terminalRewards = opts.terminalRewards ?? true;
  requireInt('iterations', iterations, 1);
  requireInt('width', width, 1);
  requireInt('maxDepth', maxDepth, 1);
  requireNumber('cPuct', cPuct, 0);
  if (leafEvaluation === 'value' && !evaluator) {
    throw new SearchConfigError("evaluator: leafEvaluation 'value' needs a StateValue (value head); pass one or use 'rollout'");
  }
  const sampling: SampleOptions = { temperature: 1, ...opts.sampling };
  const rng = new Rng(opts.seed ?? 0).split(`mcts/${problem.id}`);
  const b = new TreeBuilder(problem, judge, ['visits', 'valueSum', 'q', 'prior', 'value']);
  const N = b.stat('visits');
  const W = b.stat('valueSum');
  const Q = b.stat('q');
  const P = b.stat('prior');
  const V = b.stat('value');
  const deadEnd = new Set<number>(); // internal nodes whose children are all terminal

  const backup = (node: number, v: number) => {
    for (let i = node; i >= 0; i = b.tree.parent[i]) {
      N[i] += 1;
      W[i] += v;
      Q[i] = W[i] / N[i];
      if (i === 0) break;
    }
  };

  let it = 0;
  for (; it < iterations; it++) {
    // Selection. A node whose children are all terminal (or dead ends) becomes a dead end itself and
    // selection restarts from the root; when the root is a dead end the whole tree is explored.
    let node = 0;
    for (;;) {
      if (b.children[node].length === 0) break;
      const open = b.children[node].filter((c) => !b.tree.terminal[c] && !deadEnd.has(c));
      if (open.length === 0) {
        deadEnd.add(node);
        if (node === 0) break;
        node = 0;
        continue;
      }
      const sqrtN = Math.sqrt(N[node]);
      let best = -Infinity;
      let ties: number[] = [];
      for (const c of open) {
        const u = Q[c] + (cPuct * P[c] * sqrtN) / (1 + N[c]);
        if (u > best + 1e-12) {
          best = u;
          ties = [c];
        } else if (Math.abs(u - best) <= 1e-12) ties.push(c);
      }
      node = ties.length === 1 ? ties[0] : ties[rng.int(ties.length)];
    }
    if (deadEnd.has(0)) break;
    // Expansion.
    const [cands] = await policy.expand([{ problem, steps: b.steps(node), handle: b.handles[node] }], width, {
      ...sampling,
      seed: rng.split(`expand${it}`).nextUint32(),
    });
    const kids = cands.map((c) => {
      const id = b.add(node, c, b.tree.depth[node] + 1 >= maxDepth);
      P[id] = Math.exp(meanLogprob(c));
      return id;
    });
    // Leaf evaluation and backup.
    const v = leafEvaluation === 'value'
      ? await evaluator!.value(problem, b.steps(node))
      : await rolloutValue(problem, policy, judge, b.steps(node), maxDepth, sampling, rng.split(`rollout${it}`));
    if (!(v >= -1 && v <= 1)) throw new SearchConfigError(`evaluator returned ${v} for a state; expected a value in [-1, 1]`);
    if (V[node] === 0 && N[node] === 0) V[node] = v;
    backup(node, v);
    // Terminal children: ±1 against the gold answer (data generation) or, at inference where the answer is
    // unknown, the evaluator's value of the finished solution, so the Q-walk can compare answers.
    for (const k of kids) {
      if (!b.tree.terminal[k]) continue;
      let r: number;
      if (terminalRewards) r = b.tree.correct[k] ? 1 : -1;
      else if (evaluator) r = await evaluator.value(problem, b.steps(k));
      else continue;
      V[k] = r;
      backup(k, r);
    }
  }
  return { tree: b.tree, iterationsRun: it };
}

/** A sampled continuation to a terminal step, scored +1 if its answer is correct, −1 otherwise. */
async function rolloutValue(
  problem: Problem,
  policy: Policy,
  judge: Judge,
  prefix: string[],
  maxDepth: number,
  sampling: SampleOptions,
  rng: Rng,
): Promise<number> {
  const steps = prefix.slice();
  while (steps.length < maxDepth) {
    const [[c]] = await policy.expand([{ problem, steps }], 1, { ...sampling, seed: rng.nextUint32() });
    steps.push(c.text);
    if (c.terminal) break;
  }
  return judge.judge(problem, steps).correct ? 1 : -1;
}

/**
 * MCTS inference answer: walk from the root choosing the child with the highest Q, after pruning subtrees
 * that contain no terminal node with an answer (methods.md §5.5). Returns the node ids of the path.
 */
export function qWalk(tree: Tree): number[] {
  const n = tree.parent.length;
  const q = tree.stats?.q;
  const visits = tree.stats?.visits;
  if (!q || !visits) throw new SearchConfigError("qWalk tree.stats: expected 'q' and 'visits' (an MCTS tree)");
  const children: number[][] = Array.from({ length: n }, () => []);
  for (let i = 1; i < n; i++) children[tree.parent[i]].push(i);
  const valid = new Array<boolean>(n).fill(false);
  for (let i = n - 1; i >= 1; i--) {
    if (tree.terminal[i] && tree.answer[i] !== null) valid[i] = true;
    if (valid[i]) valid[tree.parent[i]] = true;
  }
  const path: number[] = [];
  let node = 0;
  for (;;) {
    const kids = children[node].filter((c) => valid[c] && visits[c] > 0);
    if (kids.length === 0) break;
    node = kids.reduce((best, c) => (q[c] > q[best] ? c : best));
    path.push(node);
  }
  return path;
}
