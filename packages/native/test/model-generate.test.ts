import { describe, expect, it } from 'vitest';

import { CacheBudgetError, DisposedError, KVCache, Model, type ModelConfig, SequenceTooLongError, TokenRangeError } from '../src/index.js';

const cfg: ModelConfig = { vocabSize: 29, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 40, ropeTheta: 1000, qkvBias: true };

const lastRow = (z: Float32Array | Float64Array, n: number, v: number) => z.subarray((n - 1) * v, n * v);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe('KV cache generation', () => {
  it('cached decode gives the same logits as a full recompute (1e-5)', async () => {
    using m = Model.create(cfg, { seed: 1, initStd: 0.3 });
    using cache = new KVCache(m, { budgetTokens: 128, blockSize: 4 });
    const toks = [3, 14, 15, 9, 26, 5, 3, 5, 8, 9, 7];
    const s = cache.sequence(toks.slice(0, 4));
    await cache.prefill([s]);
    for (let n = 4; n <= toks.length; n++) {
      if (n > 4) s.append([toks[n - 1]!]);
      const cached = await cache.advance([s]);
      const full = await m.logits({ tokens: toks.slice(0, n) });
      expect(maxDiff(cached, lastRow(full, n, 29))).toBeLessThan(1e-5);
    }
  });

  it('greedy generation equals an uncached argmax loop and returns model log-probs', async () => {
    using m = Model.create(cfg, { seed: 2, initStd: 0.5 });
    using cache = new KVCache(m, { budgetTokens: 128 });
    const prompt = [1, 2, 3];
    const s = cache.sequence(prompt);
    const [g] = await cache.generate([s], { temperature: 0, maxNewTokens: 8 });
    expect(g!.finish).toBe('length');
    const seq = [...prompt];
    for (let i = 0; i < 8; i++) {
      const z = lastRow(await m.logits({ tokens: seq }), seq.length, 29);
      let arg = 0;
      for (let j = 1; j < 29; j++) if (z[j]! > z[arg]!) arg = j;
      const mx = z[arg]!;
      const lse = mx + Math.log(Array.from(z).reduce((a, x) => a + Math.exp(x - mx), 0));
      expect(g!.tokens[i]).toBe(arg);
      expect(g!.logprobs[i]).toBeCloseTo(z[arg]! - lse, 5);
      seq.push(arg);
    }
    expect(Array.from(s.tokens())).toEqual(seq);
  });

  it('a forked prefix equals a recomputed one and shares its blocks (K=4, C=2 tree)', async () => {
    using m = Model.create(cfg, { seed: 3, initStd: 0.3 });
    using cache = new KVCache(m, { budgetTokens: 256, blockSize: 4 });
    const root = cache.sequence([5, 6, 7, 8, 9, 10, 11]);
    await cache.prefill([root]);
    const free = cache.stats().freeBlocks;
    const kids = root.fork(2);
    expect(cache.stats().freeBlocks).toBe(free);
    const gens = await cache.generate(kids, { temperature: 1, topK: 10, topP: 0.95, seed: 42, maxNewTokens: 5 });
    expect(gens[0]!.tokens).not.toEqual(gens[1]!.tokens);
    // Each child's logits now equal a recompute of its full token list.
    const z = await cache.advance(kids);
    for (let c = 0; c < 2; c++) {
      const toks = Array.from(kids[c]!.tokens());
      const full = await m.logits({ tokens: toks });
      expect(maxDiff(z.subarray(c * 29, (c + 1) * 29), lastRow(full, toks.length, 29))).toBeLessThan(1e-5);
    }
    const st = cache.stats();
    expect(st.copyOnWrite).toBeGreaterThan(0);
    expect(st.evictions).toBe(0);
  });

  it('stop tokens end a sequence; seeds reproduce; typed errors', async () => {
    using m = Model.create(cfg, { seed: 4, initStd: 0.5 });
    using cache = new KVCache(m, { budgetTokens: 64, blockSize: 8 });
    const a = cache.sequence([1, 2]);
    const [g] = await cache.generate([a], { temperature: 0, maxNewTokens: 5 });
    const stopAt = g!.tokens[2]!;
    const b = cache.sequence([1, 2]);
    const [h] = await cache.generate([b], { temperature: 0, maxNewTokens: 5, stopTokenIds: [stopAt] });
    expect(h!.finish).toBe('stop');
    expect(h!.tokens[h!.tokens.length - 1]).toBe(stopAt);
    expect(h!.tokens.length).toBeLessThanOrEqual(3);
    const r1 = await cache.generate(cache.sequence([4]).fork(1), { seed: 7, maxNewTokens: 6 });
    const r2 = await cache.generate(cache.sequence([4]).fork(1), { seed: 7, maxNewTokens: 6 });
    expect(r1[0]!.tokens).toEqual(r2[0]!.tokens);
    expect(() => cache.sequence([1, 29])).toThrow(TokenRangeError);
    expect(() => cache.sequence(new Array(41).fill(1))).toThrow(SequenceTooLongError);
    const big = cache.sequence(new Array(35).fill(1)); // 5 blocks of 8 each: 10 > the 8 blocks of the budget
    const big2 = cache.sequence(new Array(35).fill(2));
    await expect(cache.generate([big, big2], { maxNewTokens: 1 })).rejects.toThrow(CacheBudgetError);
    big.release();
    expect(() => big.tokens()).toThrow(DisposedError);
  });

  it('per-sequence streams: one merged call draws what each call draws alone; bad streams are typed errors', async () => {
    using m = Model.create(cfg, { seed: 6, initStd: 0.5 });
    using cache = new KVCache(m, { budgetTokens: 512, blockSize: 8 });
    const prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9]];
    // Call A: prompts 0 and 1, two forks each, seed 11; call B: prompt 2, three forks, seed 12345678901.
    const forksA = () => [cache.sequence(prompts[0]!), cache.sequence(prompts[1]!)].flatMap((s) => s.fork(2));
    const forksB = () => cache.sequence(prompts[2]!).fork(3);
    const opts = { temperature: 1.3, maxNewTokens: 8 };
    const alone = [...(await cache.generate(forksA(), { ...opts, seed: 11 })), ...(await cache.generate(forksB(), { ...opts, seed: 12345678901 }))];
    const streams = [0, 1, 2, 3].map((index) => ({ seed: 11, index })).concat([0, 1, 2].map((index) => ({ seed: 12345678901, index })));
    const merged = await cache.generate([...forksA(), ...forksB()], { ...opts, seed: 999, streams });
    expect(merged.map((g) => Array.from(g.tokens))).toEqual(alone.map((g) => Array.from(g.tokens)));
    // The draws are random enough that a stream mix-up would show: the seven rows are not all alike.
    expect(new Set(alone.map((g) => g.tokens.join(','))).size).toBeGreaterThan(3);
    // Same tokens; the log-probs may differ in the last bits (7 rows take other GEMM shapes than 4 and 3).
    for (let i = 0; i < merged.length; i++) expect(maxDiff(merged[i]!.logprobs, alone[i]!.logprobs)).toBeLessThan(1e-4);
    const seqs = cache.sequence([1]).fork(2);
    await expect(cache.generate(seqs, { streams: [{ seed: 1, index: 0 }] })).rejects.toThrow(/streams.*2/);
    await expect(cache.generate(seqs, { streams: [{ seed: -1, index: 0 }, { seed: 1, index: 0 }] })).rejects.toThrow(/streams\[0\]\.seed/);
    await expect(cache.generate(seqs, { streams: [{ seed: 1, index: 0 }, { seed: 1, index: 1.5 }] })).rejects.toThrow(/streams\[1\]\.index/);
  });

  it('evicts least-recently-used sequences under a small budget and recomputes them correctly', async () => {
    using m = Model.create(cfg, { seed: 5, initStd: 0.3 });
    using cache = new KVCache(m, { budgetTokens: 16, blockSize: 4 });
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const y = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    const a = cache.sequence(x);
    const b = cache.sequence(y);
    await cache.advance([a]);
    await cache.advance([b]);
    const za = await cache.advance([a]);
    const st = cache.stats();
    expect(st.evictions).toBeGreaterThanOrEqual(2);
    expect(st.recomputedTokens).toBeGreaterThan(0);
    expect(maxDiff(za, lastRow(await m.logits({ tokens: x }), 10, 29))).toBeLessThan(1e-5);
  });
});
