import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LEVELS,
  LEVEL_CONFIGS,
  MAX_CONTEXT_CHARS,
  TEST_RESERVOIR,
  TaskArgumentError,
  mathSignature,
  parseQuestion,
  promptText,
  renderQuestion,
  solutionText,
  splitSolution,
  testSplit,
  trainProblem,
  trainProblems,
  type ArithSpec,
} from '../src/index.js';

describe('arith-v1 generation', () => {
  it('is deterministic by seed and index, and different seeds give different problems', () => {
    const a = trainProblems(3, 20, 7);
    const b = trainProblems(3, 20, 7);
    expect(b).toEqual(a);
    expect(trainProblem(3, 7, 13)).toEqual(a[13]);
    const c = trainProblems(3, 20, 8);
    expect(c.map((p) => p.question)).not.toEqual(a.map((p) => p.question));
    expect(testSplit(2, 5)).toEqual(testSplit(2, 5));
  });

  it('keeps every level within its knobs and the 256-character context', () => {
    for (const level of LEVELS) {
      const c = LEVEL_CONFIGS[level];
      for (const p of [...testSplit(level, 300), ...trainProblems(level, 300, 'caps')]) {
        const spec = p.meta!.spec as ArithSpec;
        expect(p.question.length).toBeLessThanOrEqual(c.maxQuestionChars);
        expect(promptText(p.question).length + solutionText(p.solutionSteps!).length).toBeLessThanOrEqual(MAX_CONTEXT_CHARS);
        expect(spec.operations.length).toBeGreaterThanOrEqual(c.steps[0]);
        expect(spec.operations.length).toBeLessThanOrEqual(c.steps[1]);
        expect(spec.distractors.length).toBeGreaterThanOrEqual(c.distractors[0]);
        expect(spec.distractors.length).toBeLessThanOrEqual(c.distractors[1]);
        let v = spec.start;
        for (const o of spec.operations) {
          expect(c.ops).toContain(o.op);
          if (o.op === '/') expect(v % o.operand).toBe(0);
          v = o.op === '+' ? v + o.operand : o.op === '-' ? v - o.operand : o.op === '*' ? v * o.operand : v / o.operand;
          expect(v).toBeGreaterThanOrEqual(1);
          expect(v).toBeLessThanOrEqual(c.maxValue);
        }
        expect(p.answer).toBe(String(v));
        expect(p.solutionSteps!.at(-1)).toBe(`The answer is ${v}`);
      }
    }
  });

  it('uses distractors and all four operations from level 3 on', () => {
    const ops = new Set(testSplit(3, 300).flatMap((p) => (p.meta!.spec as ArithSpec).operations.map((o) => o.op)));
    expect([...ops].sort()).toEqual(['*', '+', '-', '/']);
    expect(testSplit(4, 50).every((p) => (p.meta!.spec as ArithSpec).distractors.length >= 1)).toBe(true);
  });

  it('parses every rendered question back to its spec', () => {
    for (const level of LEVELS) {
      for (const p of trainProblems(level, 200, 'parse')) {
        expect(parseQuestion(p.question)).toEqual(p.meta!.spec);
        expect(renderQuestion(parseQuestion(p.question))).toBe(p.question);
      }
    }
  });

  it('rejects off-grammar questions naming the sentence', () => {
    expect(() => parseQuestion('Sam has 3 pens. Sam eats 2. How many pens now?')).toThrow(/question sentence 2/);
    expect(() => parseQuestion('Sam has 3 pens. Sam gets 2. How many cups now?')).toThrow(TaskArgumentError);
    expect(() => parseQuestion('Sam has 3 pens. How many pens now?')).toThrow(/question sentence 1/);
  });

  it('round-trips solution text through splitSolution', () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes('\n')), { maxLength: 6 }), (steps) => {
        expect(splitSolution(solutionText(steps))).toEqual(steps);
      }),
    );
  });
});

describe('the fixed test split', () => {
  it('is disjoint from training streams, even in its arithmetic', () => {
    for (const level of LEVELS) {
      const test = testSplit(level, TEST_RESERVOIR);
      const testSigs = new Set(test.map((p) => mathSignature(p.meta!.spec as ArithSpec)));
      expect(testSigs.size).toBe(TEST_RESERVOIR); // no duplicates inside the test split either
      const testIds = new Set(test.map((p) => p.id));
      for (const seed of [0, 'corpus-0']) {
        for (const p of trainProblems(level, 1500, seed)) {
          expect(testSigs.has(mathSignature(p.meta!.spec as ArithSpec))).toBe(false);
          expect(testIds.has(p.id)).toBe(false);
        }
      }
    }
  });

  it('rejects sizes beyond the reserved pool', () => {
    expect(() => testSplit(1, TEST_RESERVOIR + 1)).toThrow(/count/);
    expect(() => trainProblems(9 as 1, 1)).toThrow(/level/);
  });
});

describe('custom configs', () => {
  const custom = { steps: [2, 3] as [number, number], ops: ['+', '-'] as const, start: [1, 5] as [number, number], addend: [1, 3] as [number, number], factor: [2, 2] as [number, number], maxValue: 6, distractors: [0, 0] as [number, number], maxQuestionChars: 90, testPool: 20 };

  it('generate within tight bounds and keep their own disjoint test pool', () => {
    const test = testSplit({ ...custom, ops: [...custom.ops] }, 20);
    const train = trainProblems({ ...custom, ops: [...custom.ops] }, 200, 1);
    const sigs = new Set(test.map((p) => mathSignature(p.meta!.spec as ArithSpec)));
    for (const p of train) {
      expect(sigs.has(mathSignature(p.meta!.spec as ArithSpec))).toBe(false);
      let v = (p.meta!.spec as ArithSpec).start;
      for (const o of (p.meta!.spec as ArithSpec).operations) {
        v = o.op === '+' ? v + o.operand : v - o.operand;
        expect(v).toBeGreaterThanOrEqual(1);
        expect(v).toBeLessThanOrEqual(6);
      }
    }
  });

  it('are validated field by field', () => {
    const ops = [...custom.ops];
    expect(() => trainProblems({ ...custom, ops, maxValue: 1 }, 1)).toThrow(/level\.maxValue/);
    expect(() => trainProblems({ ...custom, ops: ['*', '+'] }, 1)).toThrow(/level\.ops/);
    expect(() => trainProblems({ ...custom, ops, steps: [3, 2] }, 1)).toThrow(/level\.steps/);
    expect(() => trainProblems({ ...custom, ops, factor: [1, 2] }, 1)).toThrow(/level\.factor/);
    expect(() => testSplit({ ...custom, ops }, 21)).toThrow(/count/);
    expect(() => testSplit({ ...custom, ops, steps: [1, 1], start: [1, 1], testPool: 50 }, 1)).toThrow(/level\.testPool/);
  });
});
