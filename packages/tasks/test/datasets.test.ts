import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, gsm8kGold, loadGsm8k, loadMath500, parseConcatenatedJson, parseDatasetJsonl } from '../src/index.js';
import { sharedFile } from './shared-data.js';

const gsmPath = sharedFile('gsm8k/test.jsonl');
const mathPath = sharedFile('math500/test.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'stepwise-tasks-'));
function tmpFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}
function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe.skipIf(!gsmPath)('GSM8K loader (shared data)', () => {
  it('loads all 1319 test problems with numeric gold answers', () => {
    const ps = loadGsm8k(gsmPath!);
    expect(ps).toHaveLength(1319);
    expect(ps[0]).toMatchObject({ id: 'gsm8k/test/0', answer: '18', source: 'gsm8k/test' });
    expect(ps[0].question.startsWith('Janet')).toBe(true);
    expect(ps[0].solutionSteps).toEqual([
      'Janet sells 16 - 3 - 4 = 9 duck eggs a day.',
      'She makes 9 * 2 = $18 every day at the farmer’s market.',
    ]);
    expect(ps.every((p) => /^-?\d+(\.\d+)?$/.test(p.answer))).toBe(true);
    expect(new Set(ps.map((p) => p.id)).size).toBe(1319);
    expect(loadGsm8k(gsmPath!, { calculator: 'keep' })[0].solutionSteps![0]).toContain('<<16-3-4=9>>');
  });
});

describe.skipIf(!mathPath)('MATH500 loader (shared data)', () => {
  it('loads 500 problems with the documented level and subject counts', () => {
    const ps = loadMath500(mathPath!);
    expect(ps).toHaveLength(500);
    const levels = [1, 2, 3, 4, 5].map((l) => ps.filter((p) => p.meta!.level === l).length);
    expect(levels).toEqual([43, 90, 105, 128, 134]);
    expect(ps.filter((p) => p.meta!.subject === 'Algebra').length).toBe(124);
    expect(ps[0]).toMatchObject({ id: 'test/precalculus/807.json', answer: '\\left( 3, \\frac{\\pi}{2} \\right)', source: 'math500' });
    expect(ps[0].solutionSteps!.length).toBeGreaterThan(1);
  });
});

describe('loader errors name file, line and field', () => {
  it('GSM8K', () => {
    const good = JSON.stringify({ question: 'q', answer: 'a\n#### 1,234' });
    const p1 = tmpFile('g1.jsonl', `${good}\n\n${JSON.stringify({ question: 'q', answer: 'no gold' })}\n`);
    expect(formatError(() => loadGsm8k(p1))).toMatchObject({ file: p1, line: 3, field: 'answer' });
    const p2 = tmpFile('g2.jsonl', `${good}\n{"question": 5, "answer": "#### 1"}\n`);
    expect(formatError(() => loadGsm8k(p2))).toMatchObject({ file: p2, line: 2, field: 'question' });
    const p3 = tmpFile('g3.jsonl', `${good}\n{not json\n`);
    const e3 = formatError(() => loadGsm8k(p3));
    expect(e3).toMatchObject({ file: p3, line: 2, field: '(record)' });
    expect(e3.message).toContain(`${p3}:2`);
    expect(loadGsm8k(tmpFile('g4.jsonl', good))[0].answer).toBe('1234');
    expect(formatError(() => loadGsm8k(join(tmp, 'missing.jsonl'))).field).toBe('(file)');
  });

  it('MATH', () => {
    const rec = { problem: 'p', solution: 's', answer: '3', subject: 'Algebra', level: 2, unique_id: 'u' };
    const p1 = tmpFile('m1.jsonl', `${JSON.stringify(rec)}\n${JSON.stringify({ ...rec, level: 'Level 2' })}\n`);
    expect(formatError(() => loadMath500(p1))).toMatchObject({ line: 2, field: 'level' });
    const p2 = tmpFile('m2.jsonl', `${JSON.stringify({ ...rec, answer: undefined })}\n`);
    expect(formatError(() => loadMath500(p2))).toMatchObject({ line: 1, field: 'answer' });
    const p3 = tmpFile('m3.jsonl', `${JSON.stringify({ ...rec, level: 7 })}\n`);
    expect(formatError(() => loadMath500(p3)).message).toMatch(/level/);
  });

  it('gsm8kGold handles separators and rejects non-numbers', () => {
    expect(gsm8kGold('x\n#### 70,000')).toBe('70000');
    expect(gsm8kGold('x\n#### -3.5\n')).toBe('-3.5');
    expect(gsm8kGold('x\n#### seven')).toBeNull();
  });

  it('JSON readers report the line of a bad record', () => {
    expect(formatError(() => parseDatasetJsonl('{}\n{}\n[', 'f.jsonl'))).toMatchObject({ file: 'f.jsonl', line: 3 });
    const vals = parseConcatenatedJson('{\n "a": "}"\n}\n{"b": [1,\n2]}\n');
    expect(vals).toEqual([{ line: 1, value: { a: '}' } }, { line: 4, value: { b: [1, 2] } }]);
    expect(parseConcatenatedJson('[\n {"x": 1},\n {"x": "]"}\n]')).toEqual([
      { line: 2, value: { x: 1 } },
      { line: 3, value: { x: ']' } },
    ]);
    expect(formatError(() => parseConcatenatedJson('{"a": 1}\n{"a": }', 'c.json'))).toMatchObject({ line: 2 });
  });
});
