import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CharTokenizer, type Problem, type Tree } from '@stepwise/core';
import { Model, saveModel } from '@stepwise/native';
import { surpriseFeatures, surpriseValue, validateSurpriseHead } from '@stepwise/prm';
import { trainProblem } from '@stepwise/tasks';

import { prmTreeValues, surpriseValueHead } from '../src/prm-values.js';

// The recipes' 'surprise' scorer: fitted on the round's tree solutions (N = 1 outcome labels), then scoring
// every node of a tree. A small random model stands in for the policy; docs/prm.md §7 has the real numbers.
const dir = mkdtempSync(join(tmpdir(), 'surprise-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tok = new CharTokenizer();
const modelDir = join(dir, 'policy');
saveModel(Model.create({ vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, maxSeqLen: 160 }, { seed: 3 }), modelDir);

/** A root with two first steps, each with two finished solutions: one right and one wrong final answer each. */
function tree(p: Problem): Tree {
  const gold = String(p.answer);
  const text = ['', 'Step 1: 2 + 3 = 5', 'Step 1: 2 + 3 = 6', `The answer is ${gold}`, `The answer is ${gold}1`, `The answer is ${gold}`, `The answer is ${gold}9`];
  const parent = [-1, 0, 0, 1, 1, 2, 2];
  const terminal = parent.map((_, i) => i >= 3);
  return {
    schema: 'stepwise.tree@1',
    problemId: p.id,
    parent,
    text,
    depth: [0, 1, 1, 2, 2, 2, 2],
    terminal,
    logprobSum: parent.map(() => 0),
    tokenCount: text.map((t) => t.length),
    answer: text.map((t, i) => (terminal[i] ? t.slice('The answer is '.length) : null)),
    correct: text.map((t, i) => (terminal[i] ? t === `The answer is ${gold}` : null)),
  };
}

describe("the recipes' surprise value head", () => {
  const problems = [0, 1, 2].map((i) => trainProblem(1, 'surprise-test', i));
  const byId = new Map(problems.map((p) => [p.id, p]));
  const trees = problems.map(tree);

  it('fits on the trees, writes the head, and values every node with the head applied to its prefix', async () => {
    const prm = await surpriseValueHead(modelDir, trees, byId, join(dir, 'prm'));
    try {
      const head = validateSurpriseHead(JSON.parse(readFileSync(join(dir, 'prm', 'surprise-head.json'), 'utf8')));
      expect(head.fit.prefixes).toBe(3 * 4 * 2); // 4 solutions of 2 steps per tree
      const values = await prmTreeValues(prm, problems[0]!, trees[0]!);
      expect(values[0]).toBeNull(); // the root has no step
      // Node 4 = steps [node 1, node 4]: its value is the head on that prefix's features.
      const [f] = await surpriseFeatures(prm.scorer.model, [{ problem: problems[0]!, steps: [trees[0]!.text[1]!, trees[0]!.text[4]!] }]);
      // (fp32 logits depend on how the batch is packed, ~1e-5: hence 5 digits, not bitwise.)
      expect(values[4]).toBeCloseTo(surpriseValue(head, f![1]!), 5);
      for (const v of values.slice(1)) expect(v! >= 0 && v! <= 1).toBe(true);
      // Deterministic: a resumed score stage refits the same head.
      const again = await surpriseValueHead(modelDir, trees, byId, join(dir, 'prm2'));
      try {
        expect(again.scorer.head).toEqual(head);
      } finally {
        again.dispose();
      }
    } finally {
      prm.dispose();
    }
  });

  it('gives 0 to the steps of a solution that outgrows the context, and scores the steps that fit', async () => {
    const prm = await surpriseValueHead(modelDir, trees, byId, join(dir, 'prm3'));
    try {
      const long = 'Step 2: ' + '1 + 1 = 2, '.repeat(20);
      const [v] = await prm.scoreMany([{ problem: problems[0]!, steps: [trees[0]!.text[1]!, long, 'The answer is 5'] }]);
      expect(v).toHaveLength(3);
      expect(v![0]! > 0 && v![0]! < 1).toBe(true);
      expect(v!.slice(1)).toEqual([0, 0]);
    } finally {
      prm.dispose();
    }
  });
});
