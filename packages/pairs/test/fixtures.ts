import type { Problem, ScoredTree } from '@stepwise/core';

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
  const t: ScoredTree = {
    schema: 'stepwise.scored-tree@1',
    problemId: 'p1',
    parent: [-1],
    text: [''],
    depth: [0],
    terminal: [false],
    logprobSum: [0],
    tokenCount: [0],
    answer: [null],
    correct: [null],
    value: [rootValue],
    scorer: 'test',
    stats: { q: [0], visits: [1] },
  };
  const add = (spec: NodeSpec, parent: number, depth: number) => {
    const id = t.parent.length;
    const terminal = spec.correct !== undefined;
    t.parent.push(parent);
    t.text.push(spec.text);
    t.depth.push(depth);
    t.terminal.push(terminal);
    t.logprobSum.push(-1);
    t.tokenCount.push(spec.text.length);
    t.answer.push(terminal ? (spec.correct ? '42' : '41') : null);
    t.correct.push(terminal ? spec.correct! : null);
    t.value.push(spec.value);
    t.stats!.q.push(spec.q ?? 0);
    t.stats!.visits.push(spec.visits ?? 0);
    for (const c of spec.children ?? []) add(c, id, depth + 1);
  };
  for (const c of children) add(c, 0, 1);
  return t;
}

export const problem: Problem = { id: 'p1', question: 'What is 6 * 7?', answer: '42', source: 'test' };
