/**
 * Grows a reasoning tree as flat node arrays (core's Tree) while a search runs. Node 0 is the root.
 * Per-node statistics (visits, Q, selection scores) live in `stats` so samplers share one tree format.
 */
import type { Problem, Tree } from '@stepwise/core';

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
    this.tree = {
      schema: 'stepwise.tree@1',
      problemId: problem.id,
      parent: [-1],
      text: [''],
      depth: [0],
      terminal: [false],
      logprobSum: [0],
      tokenCount: [0],
      answer: [null],
      correct: [null],
      stats: Object.fromEntries(statNames.map((s) => [s, [0]])),
    };
  }

  get size(): number {
    return this.tree.parent.length;
  }

  /** Adds a child; a terminal child is judged at once (answer + correctness against the gold answer). */
  add(parent: number, c: StepCandidate, forceTerminal = false): number {
    const id = this.size;
    const t = this.tree;
    const terminal = c.terminal || forceTerminal;
    t.parent.push(parent);
    t.text.push(c.text);
    t.depth.push(t.depth[parent] + 1);
    t.terminal.push(terminal);
    t.logprobSum.push(c.tokenLogprobs.reduce((a, b) => a + b, 0));
    t.tokenCount.push(c.tokenLogprobs.length);
    this.tokenLogprobs.push(c.tokenLogprobs);
    this.handles.push(c.handle);
    this.children.push([]);
    this.children[parent].push(id);
    for (const s of Object.values(t.stats ?? {})) s.push(0);
    if (terminal) {
      const verdict = this.judge.judge(this.problem, this.steps(id));
      t.answer.push(verdict.answer);
      t.correct.push(verdict.correct);
    } else {
      t.answer.push(null);
      t.correct.push(null);
    }
    return id;
  }

  /** Step texts from the first step to `node`. */
  steps(node: number): string[] {
    const out: string[] = [];
    for (let i = node; i > 0; i = this.tree.parent[i]) out.push(this.tree.text[i]);
    return out.reverse();
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
