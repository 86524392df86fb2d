// Shared-prefix packing through the binding (Batch.parents): step pairs packed as [prefix][chosen][rejected]
// with both completions children of the prefix score exactly what the two full sequences packed plainly score,
// and backward gives the same (summed) parameter gradients. Random shapes on fresh seeds, float64 and float32.
import { describe, expect, it } from 'vitest';

import { ArgumentError, Model, type ModelConfig, SequenceTooLongError } from '../src/index.js';

const cfg: ModelConfig = { vocabSize: 23, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 64, ropeTheta: 500, qkvBias: true };

interface Layouts {
  plain: { tokens: Int32Array; offsets: Int32Array; targets: Int32Array; stepIndex: Int32Array; numSteps: number };
  tree: { tokens: Int32Array; offsets: Int32Array; targets: Int32Array; stepIndex: Int32Array; numSteps: number; parents: Int32Array };
  /** plain row -> tree row that computes the same log-prob */
  rowOf: Int32Array;
}

/**
 * P pairs: prefix of 1..12 tokens, chosen / rejected of 1..6. Plain: the two full sequences, next-token targets,
 * one step sum per sequence over its completion's targets. Tree: the prefix minus its last token once (the last
 * prefix token's target differs between the two sides, so each child starts with its own copy of it), then the
 * two children. A 1-token prefix has nothing to share: that pair is packed plainly in the tree layout too.
 */
function layouts(rand: () => number): Layouts {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const tok = () => int(0, cfg.vocabSize - 1);
  const pairs = Array.from({ length: int(1, 4) }, () => {
    const prefix = Array.from({ length: int(1, 12) }, tok);
    return { prefix, sides: [0, 1].map(() => Array.from({ length: int(1, 6) }, tok)) };
  });
  const plain = { tokens: [] as number[], offsets: [0], targets: [] as number[], stepIndex: [] as number[] };
  const tree = { tokens: [] as number[], offsets: [0], targets: [] as number[], stepIndex: [] as number[], parents: [] as number[] };
  const rowOf: number[] = [];
  let seq = 0;
  for (const { prefix, sides } of pairs) {
    const shared = prefix.length - 1; // tokens computed once
    const sharedStart = tree.tokens.length;
    if (shared > 0) {
      for (let i = 0; i < shared; i++) {
        tree.tokens.push(prefix[i]);
        tree.targets.push(prefix[i + 1]);
        tree.stepIndex.push(-1);
      }
      tree.offsets.push(tree.tokens.length);
      tree.parents.push(-1);
    }
    const parent = shared > 0 ? tree.parents.length - 1 : -1;
    for (const side of sides) {
      const full = [...prefix, ...side];
      const childStart = tree.tokens.length;
      for (let i = 0; i < full.length; i++) {
        const target = i + 1 < full.length ? full[i + 1] : -1;
        const step = i + 1 >= prefix.length && target >= 0 ? seq : -1;
        plain.tokens.push(full[i]);
        plain.targets.push(target);
        plain.stepIndex.push(step);
        if (i < shared) {
          rowOf.push(sharedStart + i);
        } else {
          rowOf.push(tree.tokens.length);
          tree.tokens.push(full[i]);
          tree.targets.push(target);
          tree.stepIndex.push(step);
        }
      }
      plain.offsets.push(plain.tokens.length);
      tree.offsets.push(tree.tokens.length);
      tree.parents.push(parent);
      expect(tree.tokens.length - childStart).toBe(full.length - shared);
      seq++;
    }
  }
  const i32 = (x: number[]) => Int32Array.from(x);
  return {
    plain: { tokens: i32(plain.tokens), offsets: i32(plain.offsets), targets: i32(plain.targets), stepIndex: i32(plain.stepIndex), numSteps: seq },
    tree: { tokens: i32(tree.tokens), offsets: i32(tree.offsets), targets: i32(tree.targets), stepIndex: i32(tree.stepIndex), numSteps: seq, parents: i32(tree.parents) },
    rowOf: i32(rowOf),
  };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function compare(dtype: 'float32' | 'float64', seed: number) {
  const rand = mulberry32(seed);
  const l = layouts(rand);
  using m = Model.create(cfg, { seed, dtype, initStd: 0.3 });
  const gradStep = Float64Array.from({ length: l.plain.numSteps }, () => rand() * 2 - 1);
  const run = async (b: Layouts['plain'] | Layouts['tree']) => {
    m.zeroGrad();
    const out = await m.forward(b);
    await m.backward(out, { gradStep });
    return { logp: Float64Array.from(out.tokenLogp), steps: Float64Array.from(out.stepSum), grads: m.tensors().map((t) => Float64Array.from(m.getGrad(t.name))) };
  };
  const p = await run(l.plain);
  const t = await run(l.tree);
  let logpErr = 0;
  for (let r = 0; r < l.rowOf.length; r++) logpErr = Math.max(logpErr, Math.abs(p.logp[r] - t.logp[l.rowOf[r]]));
  const stepErr = Math.max(...p.steps.map((x, s) => Math.abs(x - t.steps[s])));
  let gradErr = 0;
  p.grads.forEach((g, i) => {
    let d = 0, n = 0;
    g.forEach((x, j) => ((d += (x - t.grads[i][j]) ** 2), (n += x * x)));
    gradErr = Math.max(gradErr, Math.sqrt(d / Math.max(n, 1e-300)));
  });
  return { logpErr, stepErr, gradErr, rows: [l.plain.tokens.length, l.tree.tokens.length] };
}

describe('shared-prefix packing (Batch.parents)', () => {
  const base = (Date.now() ^ (process.pid << 8)) >>> 0; // fresh every run; printed for replay
  it('float64: log-probs, step sums and every gradient equal the two full sequences packed plainly (1e-9)', async () => {
    for (let k = 0; k < 6; k++) {
      const r = await compare('float64', base + k);
      expect(r.logpErr, `seed ${base + k}`).toBeLessThan(1e-12);
      expect(r.stepErr, `seed ${base + k}`).toBeLessThan(1e-11);
      expect(r.gradErr, `seed ${base + k}`).toBeLessThan(1e-9);
    }
  });

  it('float32: the same to float32 rounding', async () => {
    for (let k = 0; k < 6; k++) {
      const r = await compare('float32', base + 100 + k);
      expect(r.logpErr, `seed ${base + 100 + k}`).toBeLessThan(2e-5);
      expect(r.stepErr, `seed ${base + 100 + k}`).toBeLessThan(1e-4);
      expect(r.gradErr, `seed ${base + 100 + k}`).toBeLessThan(3e-5);
    }
  });

  it('refuses bad structures with errors naming the argument', async () => {
    using m = Model.create(cfg);
    const tokens = [1, 2, 3, 4, 5, 6];
    const offsets = [0, 2, 4, 6];
    await expect(m.forward({ tokens, offsets, parents: [-1, 0] })).rejects.toMatchObject({ name: 'ArgumentError', argument: 'batch.parents' });
    await expect(m.forward({ tokens, offsets, parents: [-1, 0, 2] })).rejects.toMatchObject({ argument: 'batch.parents[2]' });
    await expect(m.forward({ tokens, offsets, parents: [-1, 2, 0] })).rejects.toThrow(ArgumentError);
    await expect(m.forward({ tokens, offsets, parents: [-1, -3, 0] })).rejects.toThrow(/batch\.parents\[1\]: expected -1 or an earlier sequence/);
    // The native check behind the TS one (same message shape), reached through the handle.
    await expect(m.handle.forward(Int32Array.from(tokens), null, null, Int32Array.from(offsets), 0, Int32Array.of(0, 0, 0))).rejects.toThrow(/parents\[0\]/);
    using small = Model.create({ ...cfg, maxSeqLen: 5 });
    await expect(small.forward({ tokens, offsets, parents: [-1, 0, 1] })).rejects.toThrow(SequenceTooLongError);
    await expect(small.forward({ tokens, offsets, parents: [-1, 0, 0] })).resolves.toBeDefined();
  });
});
