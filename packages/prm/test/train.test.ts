import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { CharTokenizer } from '@stepwise/core';
import { Model, loadModel } from '@stepwise/native';
import { PrmArgumentError, PrmScorer, corpusExamples, evaluateScorer, heldOutSolutions, outcomeLabels, trainPrm } from '../src/index.js';

// 60 steps (~35 s on a busy 2-core box) reach AUC 0.556 [0.522, 0.583] with these seeds; the threshold
// leaves room for thread-count-dependent float summation order.
const STEPS = 60;
const THRESHOLD = 0.53;
const tok = new CharTokenizer();
const dir = mkdtempSync(join(tmpdir(), 'prm-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('outcomeLabels (N = 1)', () => {
  it('gives every step the final-answer correctness', () => {
    const [ex] = heldOutSolutions({ levels: [1], perLevel: 1 });
    const gold = ex!.problem.solutionSteps!;
    expect(outcomeLabels(ex!.problem, gold)).toEqual(gold.map(() => 1));
    const wrong = [...gold.slice(0, -1), 'The answer is 100000'];
    expect(outcomeLabels(ex!.problem, wrong)).toEqual(gold.map(() => 0));
  });
});

describe('trainPrm', () => {
  it('learns from N = 1 labels alone: held-out step AUC vs the oracle well above chance (seeded)', async () => {
    const config = { vocabSize: tok.vocabSize, hiddenSize: 48, intermediateSize: 144, numLayers: 2, numHeads: 4, maxSeqLen: 160 };
    const model = Model.create(config, { seed: 0 });
    const examples = corpusExamples({ seed: 'prm-test', errorRate: 0.15, levels: [1] }, 3000);
    const heldOut = heldOutSolutions({ levels: [1], perLevel: 300, seed: 'test' });
    const before = await evaluateScorer(new PrmScorer(model), heldOut, { seed: 0, resamples: 50 });
    const progress: number[] = [];
    const res = await trainPrm({
      model,
      examples,
      steps: STEPS,
      batchSize: 16,
      lr: 3e-3,
      objective: 'ce',
      lmWeight: 1,
      seed: 0,
      checkpointDir: dir,
      checkpointEvery: STEPS / 2,
      onProgress: (p) => void progress.push(p.step),
    });
    expect(res.stepsDone).toBe(STEPS);
    expect(progress).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    const ev = await evaluateScorer(new PrmScorer(model), heldOut, { seed: 0, resamples: 200 });
    console.log(`prm train test: AUC ${ev.auc.toFixed(4)} [${ev.lo.toFixed(4)}, ${ev.hi.toFixed(4)}]`);
    expect(ev.auc).toBeGreaterThan(THRESHOLD);
    expect(ev.lo).toBeGreaterThan(0.5);
    expect(ev.auc).toBeGreaterThan(before.auc + 0.02); // training, not the random init, put it there
    // The checkpoint written at the end reloads to the same scores.
    const meta = JSON.parse(readFileSync(join(dir, 'final', 'prm.json'), 'utf8'));
    expect(meta).toMatchObject({ kind: 'stepwise.prm@1', objective: 'ce', step: STEPS });
    const reloaded = new PrmScorer(loadModel(join(dir, 'final')));
    const h = heldOut[0]!;
    const [a, b] = [await new PrmScorer(model).score(h.problem, h.steps), await reloaded.score(h.problem, h.steps)];
    a.forEach((x, k) => expect(b[k]).toBeCloseTo(x, 5));
  });

  it('validates its options, naming them', async () => {
    const model = Model.create({ vocabSize: tok.vocabSize, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2 }, { seed: 0 });
    const examples = corpusExamples({ seed: 'v', errorRate: 0.15, levels: [1] }, 2);
    await expect(trainPrm({ model, examples, steps: 0 })).rejects.toThrow(PrmArgumentError);
    await expect(trainPrm({ model, examples: [], steps: 1 })).rejects.toThrow(/examples/);
    await expect(trainPrm({ model, examples, steps: 1, lmWeight: -1 })).rejects.toThrow(/lmWeight/);
    await expect(trainPrm({ model, examples: [{ ...examples[0]!, labels: [1] }], steps: 1 })).rejects.toThrow(/examples\[0\]\.labels/);
  });
});
