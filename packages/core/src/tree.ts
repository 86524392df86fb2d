/**
 * Helpers over flat trees (types.ts `Tree`): building by appending nodes, and the walks every sampler and
 * pair selector needs (path to the root, complete solutions, children, siblings). Nodes are only ever
 * appended, so a parent's id is always smaller than its children's: one forward pass visits parents first.
 */
import { ArgumentError } from './errors.js';
import type { ScoredTree, Tree } from './types.js';

/** Anything with the flat node arrays: a Tree or a ScoredTree. */
export type TreeLike = Omit<Tree, 'schema'>;

/** What a new node carries; omitted fields get the values of an unscored, non-terminal step. */
export interface NewNode {
  text: string;
  terminal?: boolean;
  logprobSum?: number;
  tokenCount?: number;
  answer?: string | null;
  correct?: boolean | null;
  /** Per-node sampler statistics; a key new to the tree is back-filled with 0 for earlier nodes. */
  stats?: Record<string, number>;
}

/** A tree holding only the root (the prompt). */
export function createTree(problemId: string): Tree {
  if (problemId.length === 0) throw new ArgumentError('problemId', 'a non-empty string', problemId);
  return {
    schema: 'stepwise.tree@1',
    problemId,
    parent: [-1],
    text: [''],
    depth: [0],
    terminal: [false],
    logprobSum: [0],
    tokenCount: [0],
    answer: [null],
    correct: [null],
  };
}

/** Appends a child of `parent` in place and returns its node id. */
export function appendNode(tree: TreeLike, parent: number, node: NewNode): number {
  const n = tree.parent.length;
  if (!Number.isInteger(parent) || parent < 0 || parent >= n) throw new ArgumentError('parent', `a node id in [0, ${n - 1}]`, parent);
  if (tree.terminal[parent]) throw new ArgumentError('parent', `a non-terminal node (node ${parent} ends its solution)`, parent);
  const terminal = node.terminal ?? false;
  if (!terminal && (node.answer != null || node.correct != null)) {
    throw new ArgumentError('node.answer', 'no answer/correctness on a non-terminal node', node.answer ?? node.correct);
  }
  if (node.logprobSum !== undefined && !(node.logprobSum <= 0)) throw new ArgumentError('node.logprobSum', 'a finite number <= 0', node.logprobSum);
  tree.parent.push(parent);
  tree.text.push(node.text);
  tree.depth.push(tree.depth[parent] + 1);
  tree.terminal.push(terminal);
  tree.logprobSum.push(node.logprobSum ?? 0);
  tree.tokenCount.push(node.tokenCount ?? 0);
  tree.answer.push(node.answer ?? null);
  tree.correct.push(node.correct ?? null);
  if (tree.stats || node.stats) {
    const stats = (tree.stats ??= {});
    for (const key of Object.keys(node.stats ?? {})) stats[key] ??= new Array<number>(n).fill(0);
    for (const [key, values] of Object.entries(stats)) values.push(node.stats?.[key] ?? 0);
  }
  return n;
}

export function nodeCount(tree: TreeLike): number {
  return tree.parent.length;
}

function checkNode(tree: TreeLike, id: number, name = 'node'): void {
  if (!Number.isInteger(id) || id < 0 || id >= tree.parent.length) {
    throw new ArgumentError(name, `a node id in [0, ${tree.parent.length - 1}]`, id);
  }
}

/** Node ids from `node` up to the root, inclusive: [node, parent, …, 0]. */
export function pathToRoot(tree: TreeLike, node: number): number[] {
  checkNode(tree, node);
  const path: number[] = [];
  for (let i = node; i !== -1; i = tree.parent[i]) path.push(i);
  return path;
}

/** Node ids from the root down to `node`, inclusive: [0, …, node]. */
export function pathFromRoot(tree: TreeLike, node: number): number[] {
  return pathToRoot(tree, node).reverse();
}

/** The step texts of the state ending at `node` (root excluded): s_t = x | a_1 | … | a_t without x. */
export function stepsTo(tree: TreeLike, node: number): string[] {
  return pathFromRoot(tree, node).slice(1).map((i) => tree.text[i]);
}

/** children[i] = ids of node i's children, in id (creation) order. */
export function childrenLists(tree: TreeLike): number[][] {
  const children: number[][] = tree.parent.map(() => []);
  for (let i = 1; i < tree.parent.length; i++) children[tree.parent[i]].push(i);
  return children;
}

/** The other children of `node`'s parent (empty for the root). Pass `children` to avoid recomputing it. */
export function siblings(tree: TreeLike, node: number, children = childrenLists(tree)): number[] {
  checkNode(tree, node);
  if (node === 0) return [];
  return children[tree.parent[node]].filter((c) => c !== node);
}

/** Nodes without children (terminal solutions and unfinished frontier nodes alike). */
export function leaves(tree: TreeLike): number[] {
  const hasChild = new Array<boolean>(tree.parent.length).fill(false);
  for (let i = 1; i < tree.parent.length; i++) hasChild[tree.parent[i]] = true;
  return hasChild.flatMap((h, i) => (h ? [] : [i]));
}

/** Every complete solution: the root-to-node path of each terminal node, in node id order. */
export function completePaths(tree: TreeLike): number[][] {
  const paths: number[][] = [];
  for (let i = 0; i < tree.parent.length; i++) if (tree.terminal[i]) paths.push(pathFromRoot(tree, i));
  return paths;
}

/** Attaches one value per node (null = not scored) and the scorer's name; the tree's arrays are copied. */
export function toScoredTree(tree: TreeLike, value: (number | null)[], scorer: string): ScoredTree {
  if (value.length !== tree.parent.length) throw new ArgumentError('value', `one value per node (${tree.parent.length})`, value);
  value.forEach((v, i) => {
    if (v !== null && !Number.isFinite(v)) throw new ArgumentError(`value[${i}]`, 'a finite number or null', v);
  });
  if (scorer.length === 0) throw new ArgumentError('scorer', 'a non-empty name', scorer);
  const copy = structuredClone({ ...tree, schema: undefined });
  return { ...copy, schema: 'stepwise.scored-tree@1', value: [...value], scorer };
}
