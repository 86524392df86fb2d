// The grader against the shared test material: the held-out grader cases (answer_equiv_cases.jsonl), and
// every GSM8K / MATH500 reference answer. The data lives beside the repository (<repo>/../shared/data, or
// $STEPWISE_SHARED_DATA); without it these tests are skipped with a printed reason.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { compareAnswers, cpuMillis } from '../src/answers/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = process.env.STEPWISE_SHARED_DATA ?? resolve(repoRoot, '../shared/data');
const casesFile = resolve(dataDir, 'answer_equiv_cases.jsonl');
const haveData = existsSync(casesFile);
if (!haveData) console.log(`answers-shared: SKIPPED, shared data not found at ${dataDir} (set STEPWISE_SHARED_DATA)`);

interface CaseRow {
  pred: string;
  gold: string;
  equal: boolean;
  test: string;
  source: string;
  policy?: string;
  options?: { precision?: number };
}

const readJsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);

/** CPU milliseconds of one call: wall time on a shared, loaded runner measures the neighbours, not us. */
function timed<T>(f: () => T): [T, number] {
  const t0 = cpuMillis();
  const v = f();
  return [v, cpuMillis() - t0];
}

describe.skipIf(!haveData)('answer_equiv_cases.jsonl (rows without a policy field)', () => {
  const rows = haveData ? readJsonl<CaseRow>(casesFile).map((r, i) => ({ ...r, line: i + 1 })) : [];
  const graded = rows.filter((r) => !('policy' in r));
  const optsOf = (r: CaseRow) => (r.options?.precision === undefined ? {} : { precision: r.options.precision });

  it('agrees with at least 95% of the expected labels, every comparison under 100 ms', () => {
    let agree = 0;
    let maxMs = 0;
    const wrong: string[] = [];
    for (const r of graded) {
      const [v, ms] = timed(() => compareAnswers(r.pred, r.gold, optsOf(r)));
      maxMs = Math.max(maxMs, ms);
      if (v.equal === r.equal) agree++;
      else wrong.push(`  line ${r.line} (${r.test}): expected ${r.equal}, got ${v.equal} [${v.reason}] pred=${JSON.stringify(v.pred)} gold=${JSON.stringify(v.gold)}`);
    }
    const rate = agree / graded.length;
    console.log(`answer_equiv_cases: ${agree}/${graded.length} = ${(100 * rate).toFixed(2)}% agreement, max ${maxMs.toFixed(1)} ms\n${wrong.join('\n')}`);
    expect(graded.length).toBeGreaterThan(300);
    expect(rate).toBeGreaterThanOrEqual(0.95);
    expect(maxMs).toBeLessThan(100);
  });

  it('is symmetric: swapping pred and gold never changes the verdict', () => {
    const asym = graded.filter((r) => compareAnswers(r.pred, r.gold, optsOf(r)).equal !== compareAnswers(r.gold, r.pred, optsOf(r)).equal);
    expect(asym.map((r) => r.line)).toEqual([]);
  });

  it('every answer equals itself and its boxed final answer', () => {
    for (const r of graded) {
      for (const s of [r.pred, r.gold]) {
        const v = compareAnswers(s, s);
        if (v.reason === 'no-answer') continue; // nothing extractable (e.g. a truncated completion)
        expect(v.equal, s.slice(0, 200)).toBe(true);
        expect(compareAnswers(`\\boxed{${v.pred}}`, s).equal, s.slice(0, 200)).toBe(true);
      }
    }
  });
});

describe.skipIf(!haveData)('GSM8K reference answers', () => {
  const rows = haveData ? readJsonl<{ answer: string }>(resolve(dataDir, 'gsm8k/test.jsonl')) : [];
  it('each gold equals \\boxed{gold}, "#### gold" and its own worked solution; not gold+1', () => {
    expect(rows.length).toBe(1319);
    let maxMs = 0;
    for (const r of rows) {
      const gold = r.answer.split('####').pop()!.trim();
      for (const pred of [`\\boxed{${gold}}`, `#### ${gold}`, r.answer, `The answer is ${gold}.`]) {
        const [v, ms] = timed(() => compareAnswers(pred, gold));
        maxMs = Math.max(maxMs, ms);
        expect(v.equal, `${pred.slice(-80)} vs ${gold}`).toBe(true);
      }
      const plusOne = String(Number(gold.replace(/,/g, '')) + 1);
      expect(compareAnswers(`\\boxed{${plusOne}}`, gold).equal, `${plusOne} vs ${gold}`).toBe(false);
    }
    expect(maxMs).toBeLessThan(100);
  });
});

describe.skipIf(!haveData)('MATH500 reference answers', () => {
  const rows = haveData ? readJsonl<{ answer: string; solution: string }>(resolve(dataDir, 'math500/test.jsonl')) : [];
  it('each gold equals \\boxed{gold}, "#### gold", "The answer is $gold$" and its own solution', () => {
    expect(rows.length).toBe(500);
    let maxMs = 0;
    for (const r of rows) {
      for (const pred of [`\\boxed{${r.answer}}`, `#### ${r.answer}`, `The answer is $${r.answer}$.`, r.solution]) {
        const [v, ms] = timed(() => compareAnswers(pred, r.answer));
        maxMs = Math.max(maxMs, ms);
        expect(v.equal, `${pred.slice(-120)} vs ${r.answer}`).toBe(true);
      }
    }
    expect(maxMs).toBeLessThan(100);
  });

  it('distinguishes different golds: over all pairs of distinct golds, "equal" only for the same value', () => {
    // A pair the grader calls equal must at least be written with the same digits (90^\circ / 90,
    // \frac14 / \frac{1}{4}, 1,-2 / -2,1): a cheap independent check that catches false positives such as
    // tolerance swallowing a different number.
    const golds = [...new Set(rows.map((r) => r.answer))];
    const digits = (s: string) => [...s.replace(/\\[A-Za-z]+/g, '').replace(/\^\s*\{?\s*[23]\s*\}?\s*$/, '')].filter((c) => /\d/.test(c)).sort().join('');
    const suspicious: string[] = [];
    let equalPairs = 0;
    for (let i = 0; i < golds.length; i++) {
      for (let j = i + 1; j < golds.length; j++) {
        if (!compareAnswers(golds[i]!, golds[j]!).equal) continue;
        equalPairs++;
        if (digits(golds[i]!) !== digits(golds[j]!)) suspicious.push(`${golds[i]} == ${golds[j]}`);
      }
    }
    console.log(`MATH500: ${equalPairs} pairs of distinct gold strings graded equal`);
    expect(suspicious).toEqual([]);
    expect(equalPairs).toBeLessThan(30);
  });
});
