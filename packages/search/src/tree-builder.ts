/**
 * Grows a reasoning tree as flat node arrays (core's Tree) while a search runs. Node 0 is the root.
 * Per-node statistics (visits, Q, selection scores) live in `stats` so samplers share one tree format.
 */
import { appendNode, createTree, stepsTo, type Problem, type Tree } from '@stepwise/core';

import type { Judge, StepCandidate } from './policy.js';

export class TreeBuilder {
  readonly tree: Tree;
  readonly children: number[][] = [[]];
  /** Backend cache handle per node (not serialised). */
  readonly handles: unknown[] = [undefined];
  readonly tokenLogprobs: number[][] = [[]];

  constructor(
    readonly problem: Problem,
    private readonly judge: Judge,
    statNames: readonly string[] = [],
  ) {
    this.tree = createTree(problem.id);
    this.tree.stats = Object.fromEntries(statNames.map((s) => [s, [0]]));
  }

  get size(): number {
    return this.tree.parent.length;
  }

  /** Adds a child; a terminal child is judged at once (answer + correctness against the gold answer). */
  add(parent: number, c: StepCandidate, forceTerminal = false): number {
    const terminal = c.terminal || forceTerminal;
    const verdict = terminal ? this.judge.judge(this.problem, [...this.steps(parent), c.text]) : null;
    const id = appendNode(this.tree, parent, {
      text: c.text,
      terminal,
      logprobSum: c.tokenLogprobs.reduce((a, b) => a + b, 0),
      tokenCount: c.tokenLogprobs.length,
      answer: verdict?.answer ?? null,
      correct: verdict ? verdict.correct : null,
    });
    this.tokenLogprobs.push(c.tokenLogprobs);
    this.handles.push(c.handle);
    this.children.push([]);
    this.children[parent].push(id);
    return id;
  }

  /** Step texts from the first step to `node`. */
  steps(node: number): string[] {
    return stepsTo(this.tree, node);
  }

  stat(name: string): number[] {
    const s = this.tree.stats?.[name];
    if (!s) throw new Error(`tree stat '${name}' was not declared`);
    return s;
  }

  /** Terminal node ids in creation order. */
  terminals(): number[] {
    const out: number[] = [];
    for (let i = 1; i < this.size; i++) if (this.tree.terminal[i]) out.push(i);
    return out;
  }
}
