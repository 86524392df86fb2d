// The benchmark's inputs and native floors: realistic-data invariants (mask layout, targets drawn from the row's
// softmax, identical values for fp32 and bf16), the peak-memory probe, and the floor exports' argument checks.
// No timing assertions.
import { Rng } from '@stepwise/core';
import { describe, expect, it } from 'vitest';

import { bf16BitsToF32, DPO_PROMPTS, f32ToBf16Bits, makeLayout, makeLogitsCase, makePool, makeRewardCase, NO_PROMPTS, searchPrefix } from '../src/bench/data.js';
import { resolveImpls } from '../src/bench/impls.js';
import { measurePeak, peakMethod } from '../src/bench/memory.js';

describe('realistic data', () => {
  it('bf16 conversion rounds to nearest even and round-trips bf16 values exactly', () => {
    expect(bf16BitsToF32(f32ToBf16Bits(1))).toBe(1);
    expect(bf16BitsToF32(f32ToBf16Bits(-2.5))).toBe(-2.5);
    // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1).
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8))).toBe(1);
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
  });

  it('searchPrefix finds the bucket containing u', () => {
    const prefix = Float64Array.from([0, 1, 3, 3, 6]); // buckets [0,1) [1,3) [3,3) [3,6)
    expect(searchPrefix(prefix, 0, 4, 0)).toBe(0);
    expect(searchPrefix(prefix, 0, 4, 2.5)).toBe(1);
    expect(searchPrefix(prefix, 0, 4, 3)).toBe(3); // the empty bucket is never chosen
    expect(searchPrefix(prefix, 0, 4, 5.9)).toBe(3);
  });

  it('the layout ignores 30–60% of each sequence as prompt, and steps are consecutive with no gaps', () => {
    const n = 20000;
    const l = makeLayout(n, new Rng('t'));
    let ignored = 0;
    let maxStep = -1;
    let bad = 0; // counted, not expect()ed per token: 20k expectations would dominate the test's time
    for (let t = 0; t < n; t++) {
      if (l.ignored[t]) {
        ignored++;
        if (l.stepIndex[t] !== -1) bad++;
      } else {
        if (l.stepIndex[t] < 0 || l.stepIndex[t] > maxStep + 1) bad++; // ids appear in order, no gaps
        maxStep = Math.max(maxStep, l.stepIndex[t]);
      }
    }
    expect(bad).toBe(0);
    expect(maxStep + 1).toBe(l.numSteps);
    expect(l.activeRows).toBe(n - ignored);
    expect(ignored / n).toBeGreaterThan(DPO_PROMPTS[0] - 0.05);
    expect(ignored / n).toBeLessThan(DPO_PROMPTS[1] + 0.05);
    expect(makeLayout(1000, new Rng('t'), NO_PROMPTS).activeRows).toBe(1000);
  });

  it('logits have σ≈2.5 with a heavy right tail, targets come from the row softmax, fp32 and bf16 hold equal values', () => {
    const pool = makePool(1 << 16, new Rng('pool'));
    const [n, v] = [64, 4000];
    const f = makeLogitsCase(n, v, 'float32', pool, 's');
    const b = makeLogitsCase(n, v, 'bfloat16', pool, 's');
    expect(b.targets).toEqual(f.targets);
    const fl = f.logits as Float32Array;
    const bl = b.logits as Uint16Array;
    let sum = 0;
    let sum2 = 0;
    let differ = 0;
    for (let i = 0; i < fl.length; i++) {
      if (bf16BitsToF32(bl[i]) !== fl[i]) differ++;
      sum += fl[i];
      sum2 += fl[i] * fl[i];
    }
    expect(differ).toBe(0);
    const sd = Math.sqrt(sum2 / fl.length - (sum / fl.length) ** 2);
    expect(sd).toBeGreaterThan(2);
    expect(sd).toBeLessThan(4);
    // Sampled from the softmax, targets sit far above the row mean (mean target log-prob ≫ −log v).
    let logp = 0;
    let active = 0;
    for (let t = 0; t < n; t++) {
      const y = f.targets[t];
      if (y < 0) continue;
      expect(y).toBeLessThan(v);
      const row = fl.subarray(t * v, (t + 1) * v);
      let m = -Infinity;
      for (const z of row) m = Math.max(m, z);
      let s = 0;
      for (const z of row) s += Math.exp(z - m);
      logp += row[y] - m - Math.log(s);
      active++;
    }
    expect(active).toBe(f.activeRows);
    expect(logp / active).toBeGreaterThan(-4); // uniform targets would give ≈ −log(4000) − ... ≈ −11
  });

  it('reward segments are ragged (8–56 steps) and offsets end at the total', () => {
    const c = makeRewardCase(100, 1, 'r');
    expect(Number(c.offsets[0])).toBe(0);
    expect(Number(c.offsets[100])).toBe(c.total);
    for (let s = 0; s < 100; s++) {
      const len = Number(c.offsets[s + 1] - c.offsets[s]);
      expect(len).toBeGreaterThanOrEqual(8);
      expect(len).toBeLessThanOrEqual(56);
    }
  });
});

describe('peak memory probe', () => {
  it('sees a touched 64 MiB allocation made inside the call', () => {
    let keep: Uint8Array | undefined;
    const { bytes, method } = measurePeak(() => {
      keep = new Uint8Array(64 * 2 ** 20).fill(1);
    });
    expect(method).toBe(peakMethod());
    expect(keep?.length).toBe(64 * 2 ** 20);
    expect(bytes).toBeGreaterThanOrEqual(60 * 2 ** 20);
  });
});

describe('native floors (argument checks and result shape, not speed)', () => {
  const impls = resolveImpls();
  const floors = impls.floors;
  it.skipIf(!floors)('return one duration per pass plus the work done', () => {
    const c = floors!.floorCopy(1 << 20, 2);
    expect(c.seconds).toHaveLength(2);
    expect(c.work).toBe(2 * (1 << 20));
    expect(c.seconds.every((s) => s > 0)).toBe(true);
    const e = floors!.floorExp(64, 10, 1);
    expect(e.work).toBe(64 * 10 * e.threads);
    expect(Number.isFinite(e.checksum)).toBe(true);
    expect(['avx2-fma', 'portable']).toContain(e.variant);
    const g = floors!.floorSgemm(8, 16, 4, true, 1);
    expect(g.work).toBe(2 * 8 * 16 * 4);
  });

  it.skipIf(!floors)('reject bad arguments with TypeError/RangeError instead of crashing', () => {
    const f = floors! as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => f.floorCopy(-1, 1)).toThrow(RangeError);
    expect(() => f.floorCopy('1', 1)).toThrow(TypeError);
    expect(() => f.floorCopy(4096.5, 1)).toThrow(RangeError);
    expect(() => f.floorCopy(2 ** 50, 1)).toThrow(RangeError);
    expect(() => f.floorExp(17, 1, 1)).toThrow(RangeError);
    expect(() => f.floorExp(64, 0, 1)).toThrow(RangeError);
    expect(() => f.floorExp(1 << 20, 1e7, 5)).toThrow(RangeError); // hours of work: refused up front
    expect(() => f.floorSgemm(1e6, 1e6, 1e6, true, 1)).toThrow(RangeError);
    expect(() => f.floorSgemm(2, 2, 2, 1, 1)).toThrow(TypeError);
    expect(() => f.floorSgemm(2, 2, 2, true)).toThrow(TypeError);
  });

  it.skipIf(!floors || impls.backends?.cuda.usable)('floorDeviceCopy throws a JS error without a usable GPU', () => {
    const f = floors! as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => f.floorDeviceCopy(1 << 20, 1)).toThrow(Error);
  });
});
