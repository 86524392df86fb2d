import { describe, expect, it } from 'vitest';

import { Model, type ModelConfig, Optimizer, lrSchedule, maskedCrossEntropy } from '../src/index.js';

const cfg: ModelConfig = {
  vocabSize: 13,
  hiddenSize: 8,
  intermediateSize: 12,
  numLayers: 2,
  numHeads: 2,
  numKvHeads: 1,
  maxSeqLen: 16,
  ropeTheta: 100,
  qkvBias: true,
};
const batch = { tokens: [3, 1, 4, 1, 5, 9, 2, 6], offsets: [0, 5, 8], stepIndex: [-1, 0, 0, 1, -1, 2, 2, -1] };

async function lossAt(m: Model, gt: number[], gs: number[]): Promise<number> {
  const o = await m.forward(batch);
  let l = 0;
  o.tokenLogp.forEach((x, t) => (l += gt[t]! * x));
  o.stepSum.forEach((x, s) => (l += gs[s]! * x));
  return l;
}

describe('backward through the binding (float64)', () => {
  it('matches central finite differences on sampled elements of every tensor', async () => {
    using m = Model.create({ ...cfg, tieEmbeddings: true }, { dtype: 'float64', seed: 3, initStd: 0.4 });
    const gt = [0.3, -1.2, 0.7, 0.1, 0.9, -0.4, 0.5, 0.2];
    const gs = [1.1, -0.6, 0.8];
    m.zeroGrad();
    const o = await m.forward(batch);
    await m.backward(o, { gradToken: gt, gradStep: gs });
    let worst = 0;
    for (const t of m.tensors()) {
      const g = m.getGrad(t.name);
      const p = m.getTensor(t.name) as Float64Array;
      for (const i of [0, Math.floor(t.size / 2), t.size - 1]) {
        const h = 1e-5;
        const p0 = p[i]!;
        p[i] = p0 + h;
        m.setTensor(t.name, p);
        const lp = await lossAt(m, gt, gs);
        p[i] = p0 - h;
        m.setTensor(t.name, p);
        const lm = await lossAt(m, gt, gs);
        p[i] = p0;
        m.setTensor(t.name, p);
        const num = (lp - lm) / (2 * h);
        worst = Math.max(worst, Math.abs(num - g[i]!) / Math.max(Math.abs(num), Math.abs(g[i]!), 1e-3));
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('accumulates gradients across backward calls until zeroGrad', async () => {
    using m = Model.create(cfg, { seed: 4, initStd: 0.3 });
    m.zeroGrad();
    const o = await m.forward(batch);
    await m.backward(o, { gradStep: [1, 1, 1] });
    const g1 = Float64Array.from(m.getGrad('model.layers.0.self_attn.v_proj.weight'));
    await m.backward(o, { gradStep: [1, 1, 1] });
    const g2 = m.getGrad('model.layers.0.self_attn.v_proj.weight');
    expect(g1.some((x) => x !== 0)).toBe(true);
    g2.forEach((x, i) => expect(x).toBeCloseTo(2 * g1[i]!, 5));
    m.zeroGrad();
    expect(m.getGrad('model.layers.0.self_attn.v_proj.weight').every((x) => x === 0)).toBe(true);
  });
});

describe('optimizers', () => {
  it('AdamW matches a reference update: decoupled decay on matrices only, global-norm clipping', async () => {
    using m = Model.create(cfg, { dtype: 'float64', seed: 5, initStd: 0.3 });
    const opt = new Optimizer(m, { kind: 'adamw', lr: 0.01, weightDecay: 0.1, maxGradNorm: 0.5 });
    m.zeroGrad();
    const o = await m.forward(batch);
    await m.backward(o, maskedCrossEntropy(o));
    const before = new Map(m.tensors().map((t) => [t.name, Float64Array.from(m.getTensor(t.name))]));
    const grads = new Map(m.tensors().map((t) => [t.name, Float64Array.from(m.getGrad(t.name))]));
    let sq = 0;
    for (const g of grads.values()) for (const x of g) sq += x * x;
    const norm = Math.sqrt(sq);
    expect(norm).toBeGreaterThan(0.5);
    const info = await opt.step();
    expect(info.gradNorm).toBeCloseTo(norm, 10);
    expect(info.step).toBe(1);
    const clip = 0.5 / (norm + 1e-6);
    for (const t of m.tensors()) {
      const p0 = before.get(t.name)!;
      const g = grads.get(t.name)!;
      const p1 = m.getTensor(t.name);
      const wd = t.decay ? 0.1 : 0;
      for (let i = 0; i < t.size; i += 7) {
        const gi = g[i]! * clip;
        const mh = (0.1 * gi) / 0.1;
        const vh = (0.001 * gi * gi) / 0.001;
        const want = p0[i]! * (1 - 0.01 * wd) - (0.01 * mh) / (Math.sqrt(vh) + 1e-8);
        expect(p1[i]).toBeCloseTo(want, 12);
      }
    }
    opt.dispose();
  });

  it('SGD with momentum matches torch.optim.SGD semantics over two steps', async () => {
    using m = Model.create(cfg, { dtype: 'float64', seed: 6, initStd: 0.3 });
    const opt = new Optimizer(m, { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    const name = 'model.layers.1.mlp.down_proj.weight';
    let p = Float64Array.from(m.getTensor(name));
    let buf: Float64Array | null = null;
    for (let s = 0; s < 2; s++) {
      m.zeroGrad();
      const o = await m.forward(batch);
      await m.backward(o, maskedCrossEntropy(o));
      const g = m.getGrad(name);
      const d = p.map((x, i) => g[i]! + 0.01 * x);
      buf = buf ? buf.map((b, i) => 0.9 * b + d[i]!) : d;
      p = p.map((x, i) => x - 0.1 * buf![i]!);
      await opt.step();
      m.getTensor(name).forEach((x, i) => expect(x).toBeCloseTo(p[i]!, 12));
    }
  });

  it('trains: AdamW with a warmup-cosine schedule drives masked CE down on a tiny memorisation task', async () => {
    using m = Model.create({ ...cfg, numKvHeads: 2, qkvBias: false }, { seed: 9 });
    using opt = new Optimizer(m, { lr: 0.02, weightDecay: 0.01, maxGradNorm: 1 });
    const sched = lrSchedule({ kind: 'cosine', lr: 0.02, warmupSteps: 5, totalSteps: 60, minLr: 0.002 });
    const data = { tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], offsets: [0, 6, 12] };
    const mask = [0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1]; // the first two tokens of each sequence are the "prompt"
    let first = 0;
    let last = 0;
    for (let step = 0; step < 60; step++) {
      m.zeroGrad();
      const o = await m.forward(data);
      const { loss, gradToken } = maskedCrossEntropy(o, mask);
      if (step === 0) first = loss;
      last = loss;
      await m.backward(o, { gradToken });
      opt.setLr(sched(step));
      await opt.step();
    }
    expect(first).toBeGreaterThan(2);
    expect(last).toBeLessThan(0.2 * first);
  });

  it('schedules: warmup then constant / linear / cosine', () => {
    const c = lrSchedule({ kind: 'constant', lr: 1, warmupSteps: 4 });
    expect([0, 1, 3, 4, 100].map(c)).toEqual([0.25, 0.5, 1, 1, 1]);
    const l = lrSchedule({ kind: 'linear', lr: 1, warmupSteps: 0, totalSteps: 10, minLr: 0 });
    expect(l(5)).toBeCloseTo(0.5);
    expect(l(20)).toBe(0);
    const cos = lrSchedule({ kind: 'cosine', lr: 1, warmupSteps: 2, totalSteps: 12, minLr: 0.1 });
    expect(cos(2)).toBeCloseTo(1);
    expect(cos(7)).toBeCloseTo(0.55);
    expect(cos(12)).toBeCloseTo(0.1);
  });
});
