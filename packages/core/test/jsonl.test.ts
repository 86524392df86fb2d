import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { JsonlError } from '../src/errors.js';
import { findTruncatedTail, JsonlWriter, readJsonl, ResumableJsonl } from '../src/jsonl.js';
import { validateProblem } from '../src/validate.js';
import { transpileSources } from './transpile.js';
// @ts-expect-error plain .mjs fixture shared with the child process, no type declarations
import { payloadFor } from './fixtures/payload.mjs';

const tmp = () => mkdtempSync(join(tmpdir(), 'stepwise-jsonl-'));

function errorOf(p: Promise<unknown>): Promise<JsonlError> {
  return p.then(
    () => {
      throw new Error('expected a JsonlError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(JsonlError);
      return e as JsonlError;
    },
  );
}

describe('JSONL reader and writer', () => {
  test('round trip, missing file, batches', async () => {
    const file = join(tmp(), 'sub', 'a.jsonl');
    expect(await readJsonl(file)).toEqual({ records: [], truncatedTail: null });
    const w = await JsonlWriter.open(file);
    await w.append({ a: 1, s: 'line\nbreak' });
    await w.appendBatch([{ a: 2 }, { a: 3 }]);
    await w.close();
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(4); // 3 lines + final newline
    expect((await readJsonl(file)).records).toEqual([{ a: 1, s: 'line\nbreak' }, { a: 2 }, { a: 3 }]);
    await expect(w.append({ a: 4 })).rejects.toThrow(/closed/);
  });

  test('records larger than the read chunk and spanning chunk boundaries', async () => {
    const file = join(tmp(), 'big.jsonl');
    const w = await JsonlWriter.open(file, { durability: 'batch' });
    const recs = Array.from({ length: 9 }, (_, i) => ({ i, s: 'é'.repeat(150_000 * (1 + (i % 3))) }));
    for (const r of recs) await w.append(r);
    await w.close();
    expect((await readJsonl(file)).records).toEqual(recs);
  });

  test('a truncated last line is skipped and reported; reopening cuts it before appending', async () => {
    const file = join(tmp(), 't.jsonl');
    writeFileSync(file, '{"k":"a"}\n{"k":"b"}\n{"k":"c","pay');
    const read = await readJsonl(file);
    expect(read.records).toEqual([{ k: 'a' }, { k: 'b' }]);
    expect(read.truncatedTail).toEqual({ line: 3, offset: 20, bytes: 13 });
    expect(await findTruncatedTail(file)).toEqual(read.truncatedTail);
    const w = await JsonlWriter.open(file);
    expect(w.repairedTail).toEqual(read.truncatedTail);
    await w.append({ k: 'c' });
    await w.close();
    expect(readFileSync(file, 'utf8')).toBe('{"k":"a"}\n{"k":"b"}\n{"k":"c"}\n');
    writeFileSync(file, 'no newline at all');
    expect(await findTruncatedTail(file)).toEqual({ line: 1, offset: 0, bytes: 17 });
  });

  test('malformed complete lines name the file, line and field', async () => {
    const file = join(tmp(), 'bad.jsonl');
    writeFileSync(file, '{"a":1}\n{"a":\n{"a":3}\n');
    const e1 = await errorOf(readJsonl(file));
    expect([e1.file, e1.line]).toEqual([file, 2]);
    expect(e1.message).toContain(`${file}:2`);
    writeFileSync(file, '{"a":1}\n\n');
    expect((await errorOf(readJsonl(file))).line).toBe(2);
    const p = { id: 'p1', question: 'q', answer: '1', source: 's' };
    writeFileSync(file, `${JSON.stringify(p)}\n${JSON.stringify({ ...p, answer: 2 })}\n`);
    const e3 = await errorOf(readJsonl(file, { validate: (v) => validateProblem(v) }));
    expect([e3.line, e3.field]).toEqual([2, 'problem.answer']);
  });

  test('resumable files refuse duplicates on disk and on append', async () => {
    const file = join(tmp(), 'r.jsonl');
    const r = await ResumableJsonl.open<{ id: string }>(file, { key: (x) => x.id });
    await r.append({ id: 'x' });
    await expect(r.append({ id: 'x' })).rejects.toThrow(/already written/);
    await expect(r.appendBatch([{ id: 'y' }, { id: 'y' }])).rejects.toThrow(/"y" is already written/);
    await expect(r.appendBatch([{ id: 'z' }, { id: 'x' }])).rejects.toThrow(/"x"/);
    await r.appendBatch([{ id: 'y' }, { id: 'z' }]);
    await r.close();
    const again = await ResumableJsonl.open<{ id: string }>(file, { key: (x) => x.id });
    expect([...again.done]).toEqual(['x', 'y', 'z']);
    await again.close();
    appendFileSync(file, '{"id":"x"}\n');
    expect((await errorOf(ResumableJsonl.open<{ id: string }>(file, { key: (x) => x.id }))).line).toBe(4);
  });
});

describe('crash safety', () => {
  let moduleDir: string;
  beforeAll(() => {
    moduleDir = transpileSources(['errors', 'jsonl']);
  });

  const child = fileURLToPath(new URL('./fixtures/jsonl-writer-child.mjs', import.meta.url));

  /** Runs the child; kills it `killAfterMs` after it reports that it resumed (or lets it finish when null). */
  function runChild(file: string, total: number, killAfterMs: number | null): Promise<{ out: string; killed: boolean }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [child, moduleDir, file, String(total)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (killAfterMs !== null && out.includes('resumed')) setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      });
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      proc.on('error', reject);
      proc.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve({ out, killed: true });
        else if (code === 0) resolve({ out, killed: false });
        else reject(new Error(`child exited ${code}: ${err}`));
      });
    });
  }

  test('SIGKILL at random moments: after resuming, every record is present exactly once', async () => {
    const file = join(tmp(), 'crash.jsonl');
    const total = 200;
    let kills = 0;
    let repaired = 0;
    for (let round = 0; round < 6; round++) {
      const r = await runChild(file, total, Math.floor(Math.random() * 40));
      if (r.killed) kills++;
      repaired += Number(/resumed \d+ (\d+)/.exec(r.out)?.[1] ?? 0) > 0 ? 1 : 0;
      if (!r.killed) break;
      // Page-cache writes are rarely torn by SIGKILL in practice, so every other round also tears one by
      // hand: a prefix of the next record without its newline, as a crash inside write(2) would leave.
      let mid = await readJsonl<{ seq: number }>(file);
      if (round % 2 === 0) {
        const line = JSON.stringify({ seq: mid.records.length, payload: payloadFor(mid.records.length) });
        appendFileSync(file, line.slice(0, 1 + Math.floor(Math.random() * (line.length - 1))));
        mid = await readJsonl<{ seq: number }>(file);
        expect(mid.truncatedTail).not.toBeNull();
      }
      // Between crashes the file may end in a partial line, which the reader must not return.
      expect(mid.records.map((x) => x.seq)).toEqual(mid.records.map((_, i) => i));
    }
    const last = await runChild(file, total, null);
    expect(last.out).toContain('done');
    repaired += Number(/resumed \d+ (\d+)/.exec(last.out)?.[1] ?? 0) > 0 ? 1 : 0;
    const { records, truncatedTail } = await readJsonl<{ seq: number; payload: string }>(file);
    expect(truncatedTail).toBeNull();
    expect(records.map((x) => x.seq)).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const x of records) expect(x.payload).toBe(payloadFor(x.seq));
    expect(kills).toBeGreaterThan(0);
    expect(repaired).toBeGreaterThan(0);
    console.log(`crash test: ${kills} kills, ${repaired} truncated tails repaired`);
  }, 60_000);
});
