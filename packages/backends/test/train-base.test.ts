import { CharTokenizer } from '@stepwise/core';
import { corpusRecord, promptText } from '@stepwise/tasks';
import { describe, expect, it } from 'vitest';

import { BackendArgumentError, corpusLoss, encodeTrainingExample, trainBaseModel, UnigramCounter } from '../src/index.js';

describe('encodeTrainingExample', () => {
  it('masks exactly the positions that predict solution tokens and EOS', () => {
    const tok = new CharTokenizer();
    const rec = corpusRecord({ seed: 3, errorRate: 0.15 }, 5);
    const solution = rec.text.slice(promptText(rec.problem.question).length);
    const ex = encodeTrainingExample(tok, rec.problem.question, solution);
    expect(ex.ids[0]).toBe(tok.bosId);
    expect(ex.ids.at(-1)).toBe(tok.eosId);
    expect(tok.decode(ex.ids)).toBe(rec.text);
    const predicted = ex.ids.filter((_, t) => t > 0 && ex.mask[t - 1]);
    expect(tok.decode(predicted)).toBe(solution);
    expect(predicted.length).toBe(solution.length + 1);
    expect(ex.mask.reduce((a, b) => a + b, 0)).toBe(solution.length + 1);
  });

  it('computes unigram entropy in nats', () => {
    const u = new UnigramCounter();
    [1, 2, 1, 2].forEach((x) => u.add(x));
    expect(u.entropy()).toBeCloseTo(Math.log(2), 12);
  });
});

describe('trainBaseModel', () => {
  it('drives the held-out solution loss below the corpus unigram entropy (it must use the context)', async () => {
    const progress: number[] = [];
    const r = await trainBaseModel({
      model: { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 2 },
      steps: 60,
      batchSize: 8,
      lr: 3e-3,
      warmupSteps: 5,
      seed: 1,
      onProgress: (p) => progress.push(p.loss),
    });
    expect(progress.length).toBe(60);
    expect(r.losses[0]).toBeGreaterThan(r.unigramEntropy);  // a fresh model is worse than unigram statistics
    // Records far past the ones trained on: a held-out measurement, with its own unigram entropy.
    const held = await corpusLoss(r.model, { offset: 1_000_000, count: 32 });
    expect(held.tokens).toBeGreaterThan(1000);
    expect(held.loss).toBeLessThan(held.unigramEntropy - 0.3);
    r.model.dispose();
  });

  it('rejects bad options with the argument named', async () => {
    await expect(trainBaseModel({ steps: 0 })).rejects.toBeInstanceOf(BackendArgumentError);
    await expect(trainBaseModel({ steps: 10, warmupSteps: 10 })).rejects.toThrow(/warmupSteps/);
    await expect(trainBaseModel({ steps: 2, warmupSteps: 0, model: { maxSeqLen: 64 } })).rejects.toThrow(/model\.maxSeqLen/);
  });
});
