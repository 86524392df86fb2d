import { describe, expect, it } from 'vitest';

import { Rng } from '@stepwise/core';
import { PrmArgumentError, auc, bootstrapAuc } from '../src/index.js';

/** O(n^2) definition: mean over (positive, negative) pairs of [s+ > s-] + 1/2 [s+ = s-]. */
function bruteAuc(s: number[], y: number[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < s.length; i++)
    for (let j = 0; j < s.length; j++)
      if (y[i] === 1 && y[j] === 0) {
        pairs++;
        sum += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
  return sum / pairs;
}

describe('auc', () => {
  it('hand cases', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    // ties count 1/2: pairs (1 vs 1) = 1/2, (2 vs 1) = 1
    expect(auc([1, 1, 2], [0, 1, 1])).toBe(0.75);
    expect(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
  });

  it('is NaN with one class and rejects bad input naming the argument', () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => auc([0.1], [1, 0])).toThrow(PrmArgumentError);
    expect(() => auc([0.1, 0.2], [1, 2])).toThrow(/labels\[1\]/);
    expect(() => auc([NaN, 0.2], [1, 0])).toThrow(/scores\[0\]/);
  });

  it('matches the pairwise definition on random data with many ties', () => {
    const rng = new Rng('auc-test');
    for (let trial = 0; trial < 20; trial++) {
      const n = 5 + rng.int(60);
      const s = Array.from({ length: n }, () => rng.int(7) / 7);
      const y = Array.from({ length: n }, () => (rng.bernoulli(0.4) ? 1 : 0));
      if (!y.includes(0) || !y.includes(1)) continue;
      expect(auc(s, y)).toBeCloseTo(bruteAuc(s, y), 12);
    }
  });
});

describe('bootstrapAuc', () => {
  const rng = new Rng('boot');
  const groups = Array.from({ length: 80 }, () => {
    const labels = Array.from({ length: 4 }, () => (rng.bernoulli(0.6) ? 1 : 0));
    return { labels, scores: labels.map((l) => l * 0.3 + rng.next()) };
  });

  it('brackets the point estimate, is seeded, and narrows with more problems', () => {
    const a = bootstrapAuc(groups, { seed: 1, resamples: 300 });
    expect(a.auc).toBeCloseTo(auc(groups.flatMap((g) => g.scores), groups.flatMap((g) => g.labels)), 12);
    expect(a.lo).toBeLessThan(a.auc);
    expect(a.hi).toBeGreaterThan(a.auc);
    expect(bootstrapAuc(groups, { seed: 1, resamples: 300 })).toEqual(a);
    const small = bootstrapAuc(groups.slice(0, 20), { seed: 1, resamples: 300 });
    expect(small.hi - small.lo).toBeGreaterThan(a.hi - a.lo);
  });

  it('rejects bad options', () => {
    expect(() => bootstrapAuc([], {})).toThrow(/groups/);
    expect(() => bootstrapAuc(groups, { resamples: 0 })).toThrow(/resamples/);
  });
});
