import { describe, expect, it } from 'vitest';

import {
  ArgumentError,
  BusyError,
  ConfigError,
  DisposedError,
  Model,
  type ModelConfig,
  SequenceTooLongError,
  StaleForwardError,
  TokenRangeError,
  packSequences,
} from '../src/index.js';

const tiny: ModelConfig = {
  vocabSize: 19,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  maxSeqLen: 12,
  ropeTheta: 1000,
  qkvBias: true,
};

describe('Model.create / forward', () => {
  it('fills documented defaults and lists HF tensor names', () => {
    using m = Model.create({ vocabSize: 10, hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 2 });
    expect(m.config).toMatchObject({ numKvHeads: 2, headDim: 4, maxSeqLen: 2048, ropeTheta: 10000, rmsNormEps: 1e-6, qkvBias: false, tieEmbeddings: false, architecture: 'llama' });
    const names = m.tensors().map((t) => t.name);
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('lm_head.weight');
    expect(m.tensors().find((t) => t.name === 'model.norm.weight')!.decay).toBe(false);
  });

  it('initialises like HF: normal(0, 0.02) matrices, unit norms, zero biases, deterministic per seed', () => {
    using a = Model.create(tiny, { seed: 7 });
    using b = Model.create(tiny, { seed: 7 });
    using c = Model.create(tiny, { seed: 8 });
    const w = a.getTensor('model.layers.1.mlp.up_proj.weight');
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.004);
    expect(std).toBeGreaterThan(0.017);
    expect(std).toBeLessThan(0.023);
    expect(Array.from(a.getTensor('model.norm.weight'))).toEqual(new Array(16).fill(1));
    expect(Array.from(a.getTensor('model.layers.0.self_attn.k_proj.bias'))).toEqual(new Array(8).fill(0));
    expect(b.getTensor('model.embed_tokens.weight')).toEqual(a.getTensor('model.embed_tokens.weight'));
    expect(c.getTensor('model.embed_tokens.weight')).not.toEqual(a.getTensor('model.embed_tokens.weight'));
  });

  it('scores next tokens and sums steps; float32 agrees with float64', async () => {
    using m32 = Model.create(tiny, { seed: 1, initStd: 0.3 });
    using m64 = Model.create(tiny, { seed: 1, initStd: 0.3, dtype: 'float64' });
    const { tokens, offsets } = packSequences([
      [1, 5, 7, 2, 9],
      [3, 3, 8],
    ]);
    const stepIndex = [-1, 0, 0, 1, -1, -1, 2, -1];
    const o32 = await m32.forward({ tokens, offsets, stepIndex });
    const o64 = await m64.forward({ tokens, offsets, stepIndex });
    expect(o64.tokenLogp).toBeInstanceOf(Float64Array);
    expect(o32.batch.targets).toEqual(Int32Array.from([5, 7, 2, 9, -1, 3, 8, -1]));
    expect(o32.tokenLogp[4]).toBe(0);
    for (let t = 0; t < 8; t++) {
      expect(o64.tokenLogp[t]).toBeLessThanOrEqual(0);
      expect(Math.abs(o32.tokenLogp[t]! - o64.tokenLogp[t]!)).toBeLessThan(1e-5);
    }
    expect(o64.stepSum[0]).toBeCloseTo(o64.tokenLogp[1]! + o64.tokenLogp[2]!, 12);
    expect(o64.stepSum[1]).toBeCloseTo(o64.tokenLogp[3]!, 12);
    expect(o64.stepSum[2]).toBeCloseTo(o64.tokenLogp[6]!, 12);
    // logits agree with the log-probs: logp = z[target] - logsumexp(z)
    const z = await m64.logits({ tokens, offsets });
    const row = Array.from(z.subarray(19, 38));
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
    expect(row[7]! - lse).toBeCloseTo(o64.tokenLogp[1]!, 12);
  });
});

describe('typed errors', () => {
  it('rejects bad configs with ConfigError naming the field', () => {
    expect(() => Model.create({ ...tiny, numKvHeads: 3 })).toThrow(ConfigError);
    expect(() => Model.create({ ...tiny, numKvHeads: 3 })).toThrow(/numKvHeads/);
    expect(() => Model.create({ ...tiny, hiddenSize: 0 })).toThrow(/hiddenSize/);
    expect(() => Model.create({ ...tiny, headDim: 5 })).toThrow(/headDim/);
    expect(() => Model.create({ ...tiny, architecture: 'llama' })).toThrow(/qkvBias/);
  });

  it('rejects token ids outside the vocabulary and sequences past maxSeqLen', async () => {
    using m = Model.create(tiny);
    await expect(m.forward({ tokens: [1, 19, 2] })).rejects.toThrow(TokenRangeError);
    await expect(m.forward({ tokens: [1, -1, 2] })).rejects.toThrow(/tokens\[1\]/);
    await expect(m.forward({ tokens: [1, 2], targets: [3, 40] })).rejects.toThrow(TokenRangeError);
    await expect(m.forward({ tokens: new Array(13).fill(1) })).rejects.toThrow(SequenceTooLongError);
    await expect(m.forward({ tokens: [1, 2, 3], offsets: [0, 1] })).rejects.toThrow(ArgumentError);
    await expect(m.forward({ tokens: [1, 2, 3], stepIndex: [0, 0, 5], numSteps: 2 })).rejects.toThrow(/stepIndex\[2\]/);
    // 12 tokens in two sequences of 6 are fine: the limit is per sequence
    await expect(m.forward({ tokens: new Array(12).fill(1), offsets: [0, 6, 12] })).resolves.toBeDefined();
  });

  it('rejects backward on a stale forward and use after dispose', async () => {
    const m = Model.create(tiny);
    const a = await m.forward({ tokens: [1, 2, 3] });
    await m.forward({ tokens: [4, 5, 6] });
    await expect(m.backward(a, { gradToken: [1, 1, 1] })).rejects.toThrow(StaleForwardError);
    await expect(m.backward(a, { gradToken: [1, 1] })).rejects.toThrow(ArgumentError);
    m.dispose();
    m.dispose();
    expect(m.disposed).toBe(true);
    await expect(m.forward({ tokens: [1] })).rejects.toThrow(DisposedError);
    expect(() => m.getTensor('model.norm.weight')).toThrow(DisposedError);
    expect(() => m.zeroGrad()).toThrow(DisposedError);
  });

  it('serialises concurrent jobs; sync calls during a job throw BusyError instead of blocking', async () => {
    using m = Model.create(tiny, { seed: 2 });
    const p1 = m.forward({ tokens: [1, 2, 3] });
    const p2 = m.forward({ tokens: [4, 5, 6, 7] });
    let busy: unknown;
    try {
      m.getTensor('model.norm.weight');
    } catch (e) {
      busy = e;
    }
    const [a, b] = await Promise.all([p1, p2]);
    expect(b.forwardId).toBeGreaterThan(a.forwardId);
    if (busy !== undefined) expect(busy).toBeInstanceOf(BusyError);
    await expect(m.backward(a, { gradToken: [1, 1, 1] })).rejects.toThrow(StaleForwardError);
    await expect(m.backward(b, { gradToken: [1, 1, 1, 1] })).resolves.toBeUndefined();
  });

  it('dispose while a forward is pending frees after it, and the job still settles', async () => {
    const m = Model.create(tiny);
    const p = m.forward({ tokens: [1, 2, 3, 4] });
    m.dispose();
    await p.then(
      (o) => expect(o.tokenLogp.length).toBe(4),
      (e) => expect(e).toBeInstanceOf(DisposedError),
    );
  });
});
