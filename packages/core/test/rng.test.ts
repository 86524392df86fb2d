import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Rng, hash32 } from '../src/index.js';

describe('Rng (xoshiro128** seeded through SplitMix32)', () => {
  it('produces the same 32-bit stream on every platform (golden values pin the algorithm)', () => {
    const r = new Rng(42);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([1226456706, 1199272191, 724982592]);
    const s = new Rng('abc');
    expect(s.nextUint32()).toBe(1048000809);
    expect(s.int(10)).toBe(5);
    expect(s.split('x').nextUint32()).toBe(1405166794);
  });

  it('split children depend only on the parent seed and the label, never on how far the parent has advanced', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), fc.integer({ min: 0, max: 50 }), (seed, label, advance) => {
        const a = new Rng(seed);
        const b = new Rng(seed);
        for (let i = 0; i < advance; i++) b.nextUint32();
        expect(a.split(label).nextUint32()).toBe(b.split(label).nextUint32());
      }),
    );
    const p = new Rng(7);
    expect(p.split('a').nextUint32()).not.toBe(p.split('b').nextUint32());
  });

  it('draws uniform integers and floats (chi-square over 10 bins, 50k draws)', () => {
    const r = new Rng(123);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 50_000; i++) bins[r.int(10)]++;
    const chi2 = bins.reduce((a, o) => a + (o - 5000) ** 2 / 5000, 0);
    expect(chi2).toBeLessThan(27.9); // 99.9th percentile of chi-square with 9 degrees of freedom
    let mean = 0;
    for (let i = 0; i < 50_000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      mean += x / 50_000;
    }
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
  });

  it('samples categories in proportion to their weights and never a zero-weight one', () => {
    const r = new Rng(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[r.categorical([1, 0, 3])]++;
    expect(counts[1]).toBe(0);
    expect(counts[2] / counts[0]).toBeGreaterThan(2.7);
    expect(counts[2] / counts[0]).toBeLessThan(3.3);
  });

  it('shuffles into a permutation, deterministically by seed', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = new Rng(9).shuffle(items);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(new Rng(9).shuffle(items)).toEqual(a);
    expect(a).not.toEqual(items);
  });

  it('rejects bad arguments with messages naming them', () => {
    const r = new Rng(1);
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
    expect(() => r.int(0)).toThrow(/Rng.int n/);
    expect(() => r.intRange(3, 2)).toThrow(/intRange/);
    expect(() => r.pick([])).toThrow(/non-empty/);
    expect(() => r.categorical([0, 0])).toThrow(/positive sum/);
    expect(() => r.categorical([1, Number.NaN])).toThrow(/weights\[1\]/);
  });

  it('hashes strings stably', () => {
    expect(hash32('abc')).toBe(hash32('abc'));
    expect(hash32('abc')).not.toBe(hash32('abd'));
  });
});
