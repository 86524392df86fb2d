import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { help, run } from '../src/commands/grade.js';

let out: string[];
let err: string[];
let dir: string;

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  dir = mkdtempSync(join(tmpdir(), 'stepwise-grade-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const lines = () => out.join('\n').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { equal: boolean; reason: string });

describe('stepwise grade PRED GOLD', () => {
  it('prints {"equal": true} for equivalent answers, with equal as the first key', async () => {
    expect(await run(['The answer is $\\boxed{\\dfrac{1}{2}}$.', '0.5'])).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]!.startsWith('{"equal":true')).toBe(true);
  });
  it('prints {"equal": false} for different answers', async () => {
    expect(await run(['\\boxed{3}', '4'])).toBe(0);
    expect(lines()[0]!.equal).toBe(false);
  });
  it('takes a negative number as an answer, not an option', async () => {
    expect(await run(['-5', '-5.0'])).toBe(0);
    expect(lines()[0]!.equal).toBe(true);
  });
  it('passes --precision through', async () => {
    await run(['0.33', '\\frac{1}{3}']);
    await run(['--precision', '2', '0.33', '\\frac{1}{3}']);
    expect(lines().map((l) => l.equal)).toEqual([false, true]);
  });
  it('exits 2 on a wrong number of arguments or an unknown option', async () => {
    expect(await run(['only-one'])).toBe(2);
    expect(await run(['--frobnicate', 'a', 'b'])).toBe(2);
    expect(await run(['--precision', 'x', 'a', 'b'])).toBe(2);
    expect(err.join('\n')).toContain('unknown option');
  });
  it('prints help', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(out.join('\n')).toBe(help);
  });
});

describe('stepwise grade --cases', () => {
  it('prints one result line per case, in order, skipping blank lines', async () => {
    const f = join(dir, 'cases.jsonl');
    writeFileSync(f, ['{"pred": "#### 1,000", "gold": "1000"}', '', '{"pred": "\\\\boxed{(1,2)}", "gold": "(2,1)"}', '{"pred": "x=2", "gold": "2"}'].join('\n') + '\n');
    expect(await run(['--cases', f])).toBe(0);
    expect(lines().map((l) => l.equal)).toEqual([true, false, true]);
  });
  it('names the file and line of malformed JSON and exits 2', async () => {
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, '{"pred": "1", "gold": "1"}\n{"pred": "1", "gold": \n');
    expect(await run(['--cases', f])).toBe(2);
    expect(err.join('\n')).toContain(`${f}:2:`);
    expect(lines()).toHaveLength(1); // the good line before it was still graded
  });
  it('rejects lines whose pred or gold is not a string', async () => {
    const f = join(dir, 'types.jsonl');
    writeFileSync(f, '{"pred": 1, "gold": "1"}\n');
    expect(await run(['--cases', f])).toBe(2);
    expect(err.join('\n')).toContain(`${f}:1: "pred" must be a string`);
  });
  it('exits 2 for a missing file', async () => {
    expect(await run(['--cases', join(dir, 'nope.jsonl')])).toBe(2);
  });
});
