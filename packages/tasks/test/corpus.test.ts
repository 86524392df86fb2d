import { describe, expect, it } from 'vitest';
import { Rng } from '@stepwise/core';
import {
  LEVELS,
  TEST_RESERVOIR,
  checkSolution,
  corpus,
  corpusRecord,
  imperfectSolution,
  mathSignature,
  parseLine,
  promptText,
  solutionText,
  testSplit,
  type ArithSpec,
  type CorpusRecord,
} from '../src/index.js';

const take = (opts: Parameters<typeof corpus>[0], n: number, offset = 0): CorpusRecord[] => [...corpus(opts, n, offset)];

describe('imperfect-solution corpus', () => {
  it('is deterministic by seed and random-access by index', () => {
    const a = take({ seed: 3, errorRate: 0.2 }, 50);
    expect(take({ seed: 3, errorRate: 0.2 }, 50)).toEqual(a);
    expect(corpusRecord({ seed: 3, errorRate: 0.2 }, 37)).toEqual(a[37]);
    expect(take({ seed: 3, errorRate: 0.2 }, 10, 40)).toEqual(a.slice(40));
    expect(take({ seed: 4, errorRate: 0.2 }, 50).map((r) => r.text)).not.toEqual(a.map((r) => r.text));
  });

  it('writes clean, checker-approved solutions at error rate 0', () => {
    for (const r of take({ seed: 'clean', errorRate: 0 }, 400)) {
      expect(r.errors).toEqual([]);
      expect(r.answerCorrect).toBe(true);
      expect(r.steps).toEqual(r.problem.solutionSteps);
      expect(checkSolution(r.problem, r.steps).correct).toBe(true);
    }
  });

  it('realises the configured per-step error rate and kind weights', () => {
    const rate = 0.2;
    let steps = 0;
    const drawn = { arithmetic: 0, 'wrong-quantity': 0, 'skipped-step': 0 };
    for (let i = 0; i < 3000; i++) {
      const spec = corpusRecord({ seed: 'rate', errorRate: 0 }, i).problem.meta!.spec as ArithSpec;
      const sol = imperfectSolution(spec, new Rng(`rate/${i}`), { errorRate: rate, weights: { arithmetic: 1 } });
      steps += sol.steps.length - 1;
      for (const e of sol.errors) if (!e.forced) drawn[e.kind]++;
    }
    const observed = drawn.arithmetic / steps;
    expect(Math.abs(observed - rate)).toBeLessThan(0.02);
    expect(drawn['wrong-quantity'] + drawn['skipped-step']).toBe(0);
  });

  it('makes later steps and the answer follow the (possibly wrong) running value', () => {
    let wrongAnswers = 0;
    for (const r of take({ seed: 'follow', errorRate: 0.3 }, 1500)) {
      let prev: number | null = null;
      for (const s of r.steps) {
        const line = parseLine(s);
        expect(line.kind).not.toBe('malformed');
        if (line.kind === 'step') {
          if (prev !== null) expect(line.a).toBe(prev);
          prev = line.result;
        } else if (line.kind === 'answer') {
          if (prev !== null) expect(line.value).toBe(prev);
        }
      }
      expect(parseLine(r.steps.at(-1)!).kind).toBe('answer');
      expect(r.text).toBe(promptText(r.problem.question) + solutionText(r.steps));
      const check = checkSolution(r.problem, r.steps);
      expect(check.correct).toBe(r.errors.length === 0);
      expect(r.answerCorrect).toBe(String(check.statedAnswer) === r.problem.answer);
      if (!r.answerCorrect) wrongAnswers++;
    }
    expect(wrongAnswers).toBeGreaterThan(300);
  });

  it('draws levels by weight and never uses a test problem', () => {
    const recs = take({ seed: 'levels', errorRate: 0.1, levelWeights: { 2: 1, 4: 3 } }, 800);
    const counts = LEVELS.map((l) => recs.filter((r) => r.level === l).length);
    expect(counts[0] + counts[2]).toBe(0);
    expect(counts[3] / 800).toBeGreaterThan(0.68);
    expect(counts[3] / 800).toBeLessThan(0.82);
    for (const l of [2, 4] as const) {
      const sigs = new Set(testSplit(l, TEST_RESERVOIR).map((p) => mathSignature(p.meta!.spec as ArithSpec)));
      for (const r of recs.filter((x) => x.level === l)) expect(sigs.has(mathSignature(r.problem.meta!.spec as ArithSpec))).toBe(false);
    }
  });

  it('rejects bad options by name', () => {
    expect(() => corpusRecord({ seed: 1, errorRate: 1.5 }, 0)).toThrow(/errorRate/);
    expect(() => corpusRecord({ seed: 1, errorRate: 0.1, weights: { arithmetic: -1 } }, 0)).toThrow(/weights\.arithmetic/);
    expect(() => corpusRecord({ seed: 1, errorRate: 0.1, levels: [] }, 0)).toThrow(/levels/);
    expect(() => corpusRecord({ seed: 1, errorRate: 0.1 }, -1)).toThrow(/index/);
  });
});
