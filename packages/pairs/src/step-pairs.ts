/**
 * Step-level pair selectors: two sibling next steps of one shared prefix (methods.md §3.1, §5.3, §2.3).
 * Each returns StepPair records; the prompt is the problem's question (chat templates are applied at
 * training time, so pairs stay model-agnostic).
 */
import type { Problem, StepPair } from '@stepwise/core';

import { TreeView } from './tree-view.js';

export class PairConfigError extends Error {
  override name = 'PairConfigError';
}

function stepPair(view: TreeView, problem: Problem, parent: number, win: number, lose: number, rule: string): StepPair {
  return {
    schema: 'stepwise.step-pair@1',
    problemId: problem.id,
    prompt: problem.question,
    prefixSteps: view.stepsTo(parent),
    chosen: view.tree.text[win],
    rejected: view.tree.text[lose],
    chosenValue: view.value(win),
    rejectedValue: view.value(lose),
    rule,
  };
}

function requireFinite(name: string, value: number, lo = -Infinity): void {
  if (!Number.isFinite(value) || value < lo) throw new PairConfigError(`${name}: expected a finite number >= ${lo}, got ${value}`);
}

export interface SppdSiblingOptions {
  /** Keep a sibling pair only when |V_w − V_l| > threshold. Default 0.5 (SPPD §6.1, App. A). */
  threshold?: number;
  /** At most this many pairs per problem, largest gaps first. Default Infinity. */
  maxPerProblem?: number;
}

/**
 * SPPD sibling pairs (methods.md §3.1, §7.1): for every node, every pair of children whose values differ by
 * more than the threshold; the higher-valued child wins; both values are kept for the dynamic margin
 * γ·(V_w − V_l). Children without a value are skipped.
 */
export function sppdSiblingPairs(view: TreeView, problem: Problem, opts: SppdSiblingOptions = {}): StepPair[] {
  const threshold = opts.threshold ?? 0.5;
  const cap = opts.maxPerProblem ?? Infinity;
  requireFinite('threshold', threshold, 0);
  if (!(cap >= 0)) throw new PairConfigError(`maxPerProblem: expected a number >= 0, got ${cap}`);
  const found: { gap: number; pair: StepPair }[] = [];
  for (let node = 0; node < view.size; node++) {
    const kids = view.children[node];
    for (let a = 0; a < kids.length; a++) {
      for (let b = a + 1; b < kids.length; b++) {
        const va = view.value(kids[a]);
        const vb = view.value(kids[b]);
        if (va === null || vb === null) continue;
        const gap = Math.abs(va - vb);
        if (!(gap > threshold)) continue;
        const [win, lose] = va > vb ? [kids[a], kids[b]] : [kids[b], kids[a]];
        found.push({ gap, pair: stepPair(view, problem, node, win, lose, 'sppd-siblings') });
      }
    }
  }
  found.sort((x, y) => y.gap - x.gap);
  return found.slice(0, cap).map((f) => f.pair);
}

export interface QValuePairOptions {
  /** Name of the per-node Q statistic in tree.stats. Default "q". */
  qStat?: string;
  /** Name of the per-node visit count in tree.stats. Default "visits". Children with 0 visits are skipped. */
  visitStat?: string;
  /** Minimum Q(a_i) − Q(a_j). Default 0 (strictly greater). */
  minGap?: number;
  /** Require Q(a_i) > 0 > Q(a_j) (winner above, loser below zero). Default false. */
  requireSignSplit?: boolean;
  /** At most this many pairs per parent node, largest gaps first. Default 3. */
  capPerNode?: number;
}

/**
 * SVPO Q-value sibling pairs (methods.md §5.3, a documented reconstruction): for every node with ≥ 2
 * visited children, pairs (a_i ≻ a_j) with Q(a_i) − Q(a_j) > minGap. The pair's values are the Q values.
 */
export function qValuePairs(view: TreeView, problem: Problem, opts: QValuePairOptions = {}): StepPair[] {
  const qName = opts.qStat ?? 'q';
  const nName = opts.visitStat ?? 'visits';
  const minGap = opts.minGap ?? 0;
  const cap = opts.capPerNode ?? 3;
  requireFinite('minGap', minGap, 0);
  const q = view.tree.stats?.[qName];
  const visits = view.tree.stats?.[nName];
  if (!q || !visits) {
    throw new PairConfigError(`tree.stats: expected per-node '${qName}' and '${nName}' arrays (an MCTS tree), got none`);
  }
  const pairs: StepPair[] = [];
  for (let node = 0; node < view.size; node++) {
    const kids = view.children[node].filter((c) => visits[c] > 0);
    const cands: { gap: number; win: number; lose: number }[] = [];
    for (const i of kids) {
      for (const j of kids) {
        const gap = q[i] - q[j];
        if (i === j || !(gap > minGap)) continue;
        if (opts.requireSignSplit && !(q[i] > 0 && q[j] < 0)) continue;
        cands.push({ gap, win: i, lose: j });
      }
    }
    cands.sort((x, y) => y.gap - x.gap);
    for (const c of cands.slice(0, cap)) {
      const pair = stepPair(view, problem, node, c.win, c.lose, 'svpo-q');
      pair.chosenValue = q[c.win];
      pair.rejectedValue = q[c.lose];
      pairs.push(pair);
    }
  }
  return pairs;
}

export interface FirstErrorOptions {
  /** A step whose value is ≤ this is wrong. Default 0.5 (oracle values are 0/1; PRM scores in [0,1]). */
  wrongAtMost?: number;
  /** At most this many chosen steps per first-error step. Default 1. */
  maxChosenPerError?: number;
}

/**
 * Step-DPO first-error pairs (methods.md §2.3, tree form): at a node whose own state is still correct (the
 * root, or value > wrongAtMost), a child that is the first wrong step is rejected, and a sibling that is
 * right and leads to a correct final answer is chosen (Step-DPO's in-distribution rectification).
 */
export function firstErrorPairs(view: TreeView, problem: Problem, opts: FirstErrorOptions = {}): StepPair[] {
  const wrongAtMost = opts.wrongAtMost ?? 0.5;
  const perError = opts.maxChosenPerError ?? 1;
  requireFinite('wrongAtMost', wrongAtMost);
  const pairs: StepPair[] = [];
  for (let node = 0; node < view.size; node++) {
    const own = view.value(node);
    if (node !== 0 && (own === null || own <= wrongAtMost)) continue;
    const kids = view.children[node];
    const wrong = kids.filter((c) => {
      const v = view.value(c);
      return v !== null && v <= wrongAtMost;
    });
    const right = kids.filter((c) => {
      const v = view.value(c);
      return v !== null && v > wrongAtMost && view.reachesCorrect(c);
    });
    for (const lose of wrong) {
      for (const win of right.slice(0, perError)) pairs.push(stepPair(view, problem, node, win, lose, 'step-dpo-first-error'));
    }
  }
  return pairs;
}
