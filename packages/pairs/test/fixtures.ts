import { appendNode, createTree, toScoredTree, type Problem, type ScoredTree } from '@stepwise/core';

export interface NodeSpec {
  text: string;
  value: number | null;
  correct?: boolean;
  children?: NodeSpec[];
  q?: number;
  visits?: number;
}

/** Builds a ScoredTree (flat arrays, node 0 = root) from a nested spec; leaves with `correct` are terminal. */
export function buildTree(children: NodeSpec[], rootValue: number | null = null): ScoredTree {
  const tree = createTree('p1');
  tree.stats = { q: [0], visits: [1] };
  const values: (number | null)[] = [rootValue];
  const add = (spec: NodeSpec, parent: number) => {
    const terminal = spec.correct !== undefined;
    const id = appendNode(tree, parent, {
      text: spec.text,
      terminal,
      logprobSum: -1,
      tokenCount: spec.text.length,
      answer: terminal ? (spec.correct ? '42' : '41') : null,
      correct: terminal ? spec.correct : null,
      stats: { q: spec.q ?? 0, visits: spec.visits ?? 0 },
    });
    values.push(spec.value);
    for (const c of spec.children ?? []) add(c, id);
  };
  for (const c of children) add(c, 0);
  return toScoredTree(tree, values, 'test');
}

export const problem: Problem = { id: 'p1', question: 'What is 6 * 7?', answer: '42', source: 'test' };
