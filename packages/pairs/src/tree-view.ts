/**
 * Read-only navigation over a scored tree's flat node arrays: children, root-to-node paths, complete
 * solutions. Selectors only read trees; they never mutate them.
 */
import { childrenLists, pathFromRoot, stepsTo, type ScoredTree } from '@stepwise/core';

export class InvalidTreeError extends Error {
  override name = 'InvalidTreeError';
}

/** One complete solution: the node ids from the first step to a terminal node (root excluded). */
export interface Solution {
  nodes: number[];
  steps: string[];
  /** Values of the states after each step (null where unscored). */
  values: (number | null)[];
  correct: boolean | null;
  answer: string | null;
}

export class TreeView {
  readonly children: number[][];

  constructor(readonly tree: ScoredTree) {
    const n = tree.parent.length;
    for (const key of ['text', 'depth', 'terminal', 'value', 'correct'] as const) {
      if (tree[key].length !== n) {
        throw new InvalidTreeError(`tree.${key}: expected ${n} entries (one per node), got ${tree[key].length}`);
      }
    }
    if (n === 0 || tree.parent[0] !== -1) throw new InvalidTreeError('tree.parent: expected node 0 to be the root (parent -1)');
    for (let i = 1; i < n; i++) {
      const p = tree.parent[i];
      if (!Number.isInteger(p) || p < 0 || p >= i) {
        throw new InvalidTreeError(`tree.parent[${i}]: expected an earlier node id in [0, ${i}), got ${p}`);
      }
    }
    this.children = childrenLists(tree);
  }

  get size(): number {
    return this.tree.parent.length;
  }

  /** Node ids from the first step down to `node` (root excluded; empty for the root). */
  pathTo(node: number): number[] {
    return pathFromRoot(this.tree, node).slice(1);
  }

  /** Step texts of the path to `node`. */
  stepsTo(node: number): string[] {
    return stepsTo(this.tree, node);
  }

  value(node: number): number | null {
    const v = this.tree.value[node];
    return v === null || v === undefined || Number.isNaN(v) ? null : v;
  }

  /** Every root-to-terminal path, in node order of the terminals. */
  solutions(): Solution[] {
    const out: Solution[] = [];
    for (let i = 1; i < this.size; i++) {
      if (!this.tree.terminal[i]) continue;
      const nodes = this.pathTo(i);
      out.push({
        nodes,
        steps: nodes.map((j) => this.tree.text[j]),
        values: nodes.map((j) => this.value(j)),
        correct: this.tree.correct[i],
        answer: this.tree.answer[i] ?? null,
      });
    }
    return out;
  }

  /** True when some terminal below `node` (or `node` itself) is correct. */
  reachesCorrect(node: number): boolean {
    if (this.tree.terminal[node]) return this.tree.correct[node] === true;
    return this.children[node].some((c) => this.reachesCorrect(c));
  }
}
