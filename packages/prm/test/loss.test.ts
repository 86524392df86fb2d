import { describe, expect, it } from 'vitest';

import { CharTokenizer } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { corpusRecord } from '@stepwise/tasks';
import { buildPrmBatch, encodeSolution, labelIds, prmLoss, softplus, type PrmObjective } from '../src/index.js';

const tok = new CharTokenizer();
const ids = labelIds(tok);
const config = { vocabSize: tok.vocabSize, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, maxSeqLen: 320 };

// Two short solutions: one labelled all-good, one with soft / mixed labels.
const recs = [corpusRecord({ seed: 'loss-test', errorRate: 0.3, levels: [1] }, 0), corpusRecord({ seed: 'loss-test', errorRate: 0.3, levels: [1] }, 1)];
const enc = recs.map((r) => encodeSolution(tok, r.problem.question, r.steps));
const hard = recs.map((r, i) => r.steps.map((_, k) => (i + k) % 2));
const soft = recs.map((r, i) => r.steps.map((_, k) => [0.25, 1, 0][(i + k) % 3]!));

async function lossOf(model: Model, objective: PrmObjective, labels: number[][], lmWeight = 0) {
  const plan = buildPrmBatch(enc, labels, ids, objective, lmWeight > 0);
  const out = await model.forward(plan.batch);
  return { out, plan, ...prmLoss(out, plan, labels, lmWeight) };
}

describe('prmLoss', () => {
  it('bce equals the two-way softmax cross-entropy computed from the logits', async () => {
    const model = Model.create(config, { seed: 3, dtype: 'float64', initStd: 0.5 });
    const { loss, plan } = await lossOf(model, 'bce', soft);
    const V = tok.vocabSize;
    const logits = await model.logits({ tokens: plan.batch.tokens, offsets: plan.batch.offsets });
    let sum = 0;
    let n = 0;
    plan.rowGood.forEach((rows, i) =>
      rows.forEach((r, k) => {
        const d = logits[r * V + ids.good]! - logits[r * V + ids.bad]!;
        sum += soft[i]![k]! * softplus(-d) + (1 - soft[i]![k]!) * softplus(d);
        n++;
      }),
    );
    expect(loss).toBeCloseTo(sum / n, 10);
  });

  for (const [objective, labels, lmW] of [['bce', soft, 0], ['ce', hard, 0], ['bce', soft, 0.7]] as const) {
    it(`${objective} (lmWeight ${lmW}): the engine gradient matches central finite differences (float64)`, async () => {
      const model = Model.create(config, { seed: 7, dtype: 'float64', initStd: 0.3 });
      model.zeroGrad();
      const { out, gradToken } = await lossOf(model, objective, labels, lmW);
      await model.backward(out, { gradToken });
      const eps = 1e-5;
      let checked = 0;
      for (const t of model.tensors().filter((_, i) => i % 3 === 0)) {
        const grad = model.getGrad(t.name);
        const w = model.getTensor(t.name);
        for (const j of [0, Math.floor(t.size / 2), t.size - 1]) {
          const orig = w[j]!;
          w[j] = orig + eps;
          model.setTensor(t.name, w);
          const up = (await lossOf(model, objective, labels, lmW)).loss;
          w[j] = orig - eps;
          model.setTensor(t.name, w);
          const down = (await lossOf(model, objective, labels, lmW)).loss;
          w[j] = orig;
          model.setTensor(t.name, w);
          const fd = (up - down) / (2 * eps);
          expect(Math.abs(grad[j]! - fd)).toBeLessThan(1e-7 + 1e-5 * Math.abs(fd));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(5);
    });
  }

  it('the auxiliary LM term is the mean next-char loss on solution rows other than the label rows', async () => {
    const model = Model.create(config, { seed: 5, dtype: 'float64' });
    const a = await lossOf(model, 'bce', soft, 0.5);
    const b = await lossOf(model, 'bce', soft, 0);
    expect(a.stepLoss).toBeCloseTo(b.loss, 10);
    const solutionRows = enc.reduce((s, e) => s + e.tokens.length - e.promptLen, 0);
    const labelRows = enc.reduce((s, e) => s + e.stepEnds.length, 0);
    expect(a.plan.lmRows).toHaveLength(solutionRows - labelRows);
    expect(a.lmLoss).toBeGreaterThan(Math.log(tok.vocabSize) - 1); // ~uniform at init
    expect(a.loss).toBeCloseTo(a.stepLoss + 0.5 * a.lmLoss, 10);
  });

  it("'ce' rejects soft labels and every label must be in [0, 1]", () => {
    expect(() => buildPrmBatch(enc, soft, ids, 'ce')).toThrow(/labels\[0\]\[0\]/);
    expect(() => buildPrmBatch(enc, [[2, 1, 1], hard[1]!], ids, 'bce')).toThrow(/labels\[0\]/);
    expect(() => buildPrmBatch(enc, hard, ids, 'mse' as PrmObjective)).toThrow(/objective/);
  });
});
