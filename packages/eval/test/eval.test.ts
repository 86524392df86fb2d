import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { Problem } from '@stepwise/core';
import { ScriptedPolicy, type Judge, type StepScorer } from '@stepwise/search';

import {
  accuracyBarsSvg,
  correctness,
  evaluate,
  lineChartSvg,
  markdownTable,
  mcnemarExact,
  pairedDifference,
  wilson,
} from '../src/index.js';

describe('Wilson interval', () => {
  it('matches textbook values', () => {
    const zero = wilson(0, 10);
    expect(zero.lo).toBe(0);
    expect(zero.hi).toBeCloseTo(0.277533, 5);
    const all = wilson(10, 10);
    expect(all.lo).toBeCloseTo(0.722467, 5);
    const mid = wilson(81, 263);
    expect(mid.lo).toBeCloseTo(0.255289, 5); // computed independently from the closed form
    expect(mid.hi).toBeCloseTo(0.36621, 5);
  });

  it('always contains the estimate and stays in [0, 1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
        const k = Math.floor(f * n);
        const i = wilson(k, n);
        expect(i.lo).toBeLessThanOrEqual(i.estimate + 1e-12);
        expect(i.hi).toBeGreaterThanOrEqual(i.estimate - 1e-12);
        expect(i.lo).toBeGreaterThanOrEqual(0);
        expect(i.hi).toBeLessThanOrEqual(1);
      }),
    );
    expect(() => wilson(3, 2)).toThrow(RangeError);
  });
});

describe('paired comparison', () => {
  it('computes the mean difference, its interval and McNemar on discordant pairs', () => {
    // 20 problems: B alone right on 6, A alone right on 0, both right on 7, both wrong on 7.
    const a = [...Array(6).fill(false), ...Array(7).fill(true), ...Array(7).fill(false)];
    const b = [...Array(6).fill(true), ...Array(7).fill(true), ...Array(7).fill(false)];
    const d = pairedDifference(a, b);
    expect(d.estimate).toBeCloseTo(0.3, 12);
    expect(d.bOnly).toBe(6);
    expect(d.aOnly).toBe(0);
    // sd of d: values 1 (×6) and 0 (×14): var = (6/20 − 0.09)·20/19
    const half = 1.959963984540054 * Math.sqrt(((0.3 - 0.09) * 20) / 19 / 20);
    expect(d.lo).toBeCloseTo(0.3 - half, 12);
    expect(d.significantlyBetter).toBe(true);
    expect(d.pValue).toBeCloseTo(2 / 64, 12);
  });

  it('McNemar exact p-values', () => {
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(1, 9)).toBeCloseTo((2 * 11) / 1024, 12);
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(() => pairedDifference([true], [])).toThrow(RangeError);
  });
});

describe('evaluate (scripted policy)', () => {
  const problems: Problem[] = [
    { id: 'a', question: 'q a', answer: '1', source: 't' },
    { id: 'b', question: 'q b', answer: '2', source: 't' },
  ];
  const judge: Judge = {
    judge: (p, steps) => {
      const m = /answer is (\d+)/.exec(steps.at(-1) ?? '');
      return { answer: m ? m[1] : null, correct: m !== null && m[1] === p.answer };
    },
    same: (x, y) => Number(x) === Number(y),
    finished: (_p, steps) => /answer is \d+/.test(steps.at(-1) ?? ''),
  };
  // The scripted policy ignores the problem: one cursor cycles 1, 2, 2, 1, 2, 2, … across all calls.
  const policy = () =>
    new ScriptedPolicy(() => [
      { text: 'The answer is 1', logprobs: [-0.1], terminal: true },
      { text: 'The answer is 2', logprobs: [-0.2], terminal: true },
      { text: 'The answer is 2', logprobs: [-0.2], terminal: true },
    ]);

  it('runs greedy and MAJ@N with per-problem correctness and intervals', async () => {
    const r = await evaluate(problems, policy(), judge, { protocols: ['greedy', 'maj'], samples: 3 });
    // a: greedy 1 (right); samples 2, 2, 1 → MAJ 2 (wrong). b: greedy 2 (right); samples 2, 1, 2 → MAJ 2 (right).
    expect(correctness(r, 'greedy')).toEqual([true, true]);
    expect(correctness(r, 'maj')).toEqual([false, true]);
    expect(r.accuracy.maj?.estimate).toBe(0.5);
    expect(r.results.map((x) => x.sampleAccuracy)).toEqual([1 / 3, 2 / 3]);
    expect(r.sampling?.estimate).toBe(0.5);
    expect(r.sampling?.n).toBe(6);
  });

  it('ORM protocols use the scorer and are refused without one', async () => {
    const orm: StepScorer = { name: 'o', score: async (_p, steps) => steps.map((s) => (s.includes('1') ? 0.9 : 0.1)) };
    const r = await evaluate(problems, policy(), judge, { protocols: ['orm-vote', 'orm-max'], samples: 3, orm });
    expect(r.results.map((x) => x.answers['orm-max'])).toEqual(['1', '1']);
    expect(r.results.map((x) => x.answers['orm-vote'])).toEqual(['1', '1']); // 0.9 > 0.1 + 0.1
    await expect(evaluate(problems, policy(), judge, { protocols: ['orm-max'] })).rejects.toThrow(/orm/);
  });
});

describe('report writers', () => {
  it('writes a Markdown table with intervals in percent', () => {
    const t = markdownTable([{ name: 'base', cells: { greedy: wilson(5, 10) } }], ['greedy', 'maj']);
    expect(t.split('\n')[0]).toBe('| stage | greedy | maj |');
    expect(t).toMatch(/\| base \| 50\.0 \[23\.7, 76\.3\] \| – \|/);
  });

  it('writes well-formed SVG with one bar per stage and escaped labels', () => {
    const svg = accuracyBarsSvg('acc <greedy>', [
      { label: 'base', interval: wilson(3, 10) },
      { label: '+SPPD', interval: wilson(6, 10) },
    ]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('acc &lt;greedy&gt;');
    expect(svg.match(/<rect /g)).toHaveLength(2);
    const line = lineChartSvg('loss', [{ name: 'train', points: [[0, 2], [1, 1.5], [2, Number.NaN]] }]);
    expect(line).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  });
});
