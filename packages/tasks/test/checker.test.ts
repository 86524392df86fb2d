import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@stepwise/core';
import {
  LEVELS,
  checkSolution,
  imperfectSolution,
  oracleScorer,
  stepValues,
  testSplit,
  trainProblem,
  type ArithSpec,
} from '../src/index.js';
import type { Problem } from '@stepwise/core';

/**
 * Brute-force oracle, written independently of the checker: enumerate the accepted text of every line from
 * the structured spec (Problem.meta, not the question text) and compare strings.
 */
function bruteForceValues(spec: ArithSpec, steps: readonly string[]): number[] {
  const accepted: string[][] = [];
  let v = spec.start;
  spec.operations.forEach((o, i) => {
    const next = { '+': v + o.operand, '-': v - o.operand, '*': v * o.operand, '/': v / o.operand }[o.op];
    const lines = [`Step ${i + 1}: ${v} ${o.op} ${o.operand} = ${next}`];
    if (o.op === '+' || o.op === '*') lines.push(`Step ${i + 1}: ${o.operand} ${o.op} ${v} = ${next}`);
    accepted.push(lines);
    v = next;
  });
  accepted.push([`The answer is ${v}`]);
  const out: number[] = [];
  let ok = true;
  steps.forEach((s, i) => {
    ok = ok && i < accepted.length && accepted[i].includes(s.replace(/\s+$/, ''));
    out.push(ok ? 1 : 0);
  });
  return out;
}

function problems(n: number): Problem[] {
  return Array.from({ length: n }, (_, i) => trainProblem(LEVELS[i % 4], 'checker', i));
}

describe('oracle checker', () => {
  const pool = problems(10_000);

  it('accepts every reference solution and agrees with brute force on 10k problems', () => {
    for (const p of pool) {
      const r = checkSolution(p, p.solutionSteps!);
      expect(r.firstError).toBeNull();
      expect(r.correct).toBe(true);
      expect(String(r.statedAnswer)).toBe(p.answer);
      expect(stepValues(p, p.solutionSteps!)).toEqual(bruteForceValues(p.meta!.spec as ArithSpec, p.solutionSteps!));
    }
  });

  it('reports exactly the injected first error (position and kind) on 10k corrupted solutions', () => {
    const seenKinds = new Set<string>();
    let corrupted = 0;
    pool.forEach((p, i) => {
      const spec = p.meta!.spec as ArithSpec;
      const sol = imperfectSolution(spec, new Rng(`corrupt/${i}`), { errorRate: 0.35 });
      const r = checkSolution(p, sol.steps);
      const values = stepValues(p, sol.steps);
      expect(values).toEqual(bruteForceValues(spec, sol.steps));
      if (sol.errors.length === 0) {
        expect(r.firstError).toBeNull();
        return;
      }
      corrupted++;
      const first = sol.errors[0];
      seenKinds.add(`${first.kind}->${first.checkerKind}`);
      expect(r.firstError).not.toBeNull();
      expect({ index: r.firstError!.index, kind: r.firstError!.kind }).toEqual({ index: first.index, kind: first.checkerKind });
      expect(values.indexOf(0)).toBe(first.index);
      expect(r.correct).toBe(false);
    });
    expect(corrupted).toBeGreaterThan(5000);
    for (const k of ['arithmetic->arithmetic', 'wrong-quantity->wrong-operand', 'skipped-step->wrong-operand', 'skipped-step->premature-answer']) {
      expect(seenKinds).toContain(k);
    }
  });

  it('agrees with brute force on random edits of reference solutions', () => {
    const edit = fc.oneof(
      fc.record({ t: fc.constant('digit' as const), pos: fc.nat(), d: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ t: fc.constant('drop' as const), pos: fc.nat() }),
      fc.record({ t: fc.constant('dup' as const), pos: fc.nat() }),
      fc.record({ t: fc.constant('swap' as const), pos: fc.nat() }),
      fc.record({ t: fc.constant('op' as const), pos: fc.nat(), op: fc.constantFrom('+', '-', '*', '/', 'x') }),
      fc.record({ t: fc.constant('text' as const), pos: fc.nat(), s: fc.string({ maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(fc.nat({ max: pool.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 3 }), (pi, edits) => {
        const p = pool[pi];
        const steps = p.solutionSteps!.slice();
        for (const e of edits) {
          if (steps.length === 0) break;
          const i = e.pos % steps.length;
          if (e.t === 'digit') {
            const idx = [...steps[i]].map((c, j) => (/\d/.test(c) ? j : -1)).filter((j) => j >= 0);
            if (idx.length) {
              const j = idx[e.pos % idx.length];
              steps[i] = steps[i].slice(0, j) + e.d + steps[i].slice(j + 1);
            }
          } else if (e.t === 'drop') steps.splice(i, 1);
          else if (e.t === 'dup') steps.splice(i, 0, steps[i]);
          else if (e.t === 'swap' && i + 1 < steps.length) [steps[i], steps[i + 1]] = [steps[i + 1], steps[i]];
          else if (e.t === 'op') steps[i] = steps[i].replace(/ [-+*/] /, ` ${e.op} `);
          else if (e.t === 'text') steps[i] = steps[i] + e.s;
        }
        const expected = bruteForceValues(p.meta!.spec as ArithSpec, steps);
        expect(stepValues(p, steps)).toEqual(expected);
        const r = checkSolution(p, steps);
        const full = expected.length === p.solutionSteps!.length && expected.every((x) => x === 1);
        expect(r.correct).toBe(full);
      }),
      { numRuns: 3000 },
    );
  });

  it('names each error kind on hand-made cases', () => {
    const p = testSplit(3, 50).find((q) => (q.meta!.spec as ArithSpec).operations.length === 4)!;
    const ref = p.solutionSteps!;
    const kind = (steps: string[]) => checkSolution(p, steps).firstError;
    const bump = (s: string) => s.replace(/= (\d+)$/, (_, c) => `= ${Number(c) + 1}`);
    expect(kind([ref[0], bump(ref[1]), ...ref.slice(2)])).toMatchObject({ index: 1, kind: 'arithmetic' });
    expect(kind([ref[0], 'Step 2 something', ...ref.slice(2)])).toMatchObject({ index: 1, kind: 'malformed' });
    expect(kind([ref[0], ref[1].replace('Step 2', 'Step 3'), ...ref.slice(2)])).toMatchObject({ index: 1, kind: 'malformed' });
    expect(kind([ref[0], ref[1], ref[4]])).toMatchObject({ index: 2, kind: 'premature-answer' });
    expect(kind(ref.slice(0, 4))).toMatchObject({ index: 4, kind: 'missing-final-answer' });
    expect(kind([...ref.slice(0, 4), 'The answer is 100000'])).toMatchObject({ index: 4, kind: 'wrong-final-answer' });
    expect(kind([...ref, 'The answer is 1'])).toMatchObject({ index: 5, kind: 'extra-step' });
    expect(kind([...ref.slice(0, 4), ref[3].replace('Step 4', 'Step 5'), ref[4]])).toMatchObject({ index: 4, kind: 'extra-step' });
    expect(kind([])).toMatchObject({ index: 0, kind: 'missing-final-answer' });
    // A wrong operand: the start value replaced by start + 1 in step 1.
    const s0 = ref[0].replace(/^Step 1: (\d+)/, (_, a) => `Step 1: ${Number(a) + 1}`);
    expect(kind([s0, ...ref.slice(1)])).toMatchObject({ index: 0, kind: 'wrong-operand' });
    // Trailing separators are tolerated.
    expect(checkSolution(p, ref.map((s) => s + '\n')).correct).toBe(true);
    expect(stepValues(p, [ref[0], bump(ref[1]), ref[2]])).toEqual([1, 0, 0]);
  });

  it('distinguishes wrong operation from wrong operand, and accepts swapped operands only for + and *', () => {
    const spec: ArithSpec = {
      name: 'Sam', noun: 'pens', start: 12, distractors: [], distractorSlots: [],
      operations: [{ op: '+', operand: 3 }, { op: '-', operand: 5 }, { op: '*', operand: 2 }],
    };
    const ok = ['Step 1: 12 + 3 = 15', 'Step 2: 15 - 5 = 10', 'Step 3: 10 * 2 = 20', 'The answer is 20'];
    expect(checkSolution(spec, ok).correct).toBe(true);
    expect(checkSolution(spec, ['Step 1: 3 + 12 = 15', ok[1], 'Step 3: 2 * 10 = 20', ok[3]]).correct).toBe(true);
    expect(checkSolution(spec, [ok[0], 'Step 2: 5 - 15 = -10', ok[2], ok[3]]).firstError).toMatchObject({ index: 1, kind: 'wrong-operand' });
    expect(checkSolution(spec, [ok[0], 'Step 2: 15 + 5 = 20', ok[2], ok[3]]).firstError).toMatchObject({ index: 1, kind: 'wrong-operation' });
    expect(checkSolution(spec, [ok[0], 'Step 2: 15 * 2 = 30', ok[2], ok[3]]).firstError).toMatchObject({ index: 1, kind: 'wrong-operand' });
  });

  it('works as a StepScorer and rejects bad arguments by name', async () => {
    const p = testSplit(1, 1)[0];
    expect(await oracleScorer.score(p, p.solutionSteps!)).toEqual(p.solutionSteps!.map(() => 1));
    expect(() => checkSolution(p, 'Step 1' as unknown as string[])).toThrow(/steps/);
    expect(() => checkSolution(p, [1 as unknown as string])).toThrow(/steps\[0\]/);
    expect(() => checkSolution({ ...p, question: 'What is 2+2?' }, [])).toThrow(/question sentence/);
  });
});
