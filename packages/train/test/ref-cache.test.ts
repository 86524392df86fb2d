import { mkdtemp, appendFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError, CharTokenizer, type PreferencePair, type StepPair } from '@stepwise/core';
import { buildPairBatch, RefLogpCache, referenceInputs, refLogpsFromTokens, refPairKey, type RefLogps } from '../src/index.js';

const tok = new CharTokenizer();
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'stepwise-refcache-'));
  dirs.push(d);
  return join(d, 'ref.jsonl');
};

const pair = (i: number): StepPair => ({
  schema: 'stepwise.step-pair@1',
  problemId: `p${i}`,
  prompt: `Q: ${i}+${i + 1}?\n`,
  prefixSteps: [],
  chosen: `Step 1: = ${2 * i + 1}\n`,
  rejected: `Step 1: = ${2 * i + 2}\n`,
  chosenValue: 0.9,
  rejectedValue: 0.2,
  rule: 'test',
});
const pairs = [pair(1), pair(2), pair(3)];

/** A stand-in for a reference forward: deterministic, non-zero per-position log-probs; counts its calls. */
function fakeReference() {
  const calls: PreferencePair[][] = [];
  const compute = async (todo: readonly PreferencePair[]): Promise<RefLogps[]> => {
    calls.push([...todo]);
    const b = buildPairBatch(tok, todo);
    const lp = Float64Array.from(b.inputIds, (id, x) => -0.05 - ((id * 31 + x) % 17) / 7);
    return refLogpsFromTokens(b, lp, true);
  };
  return { calls, compute };
}

describe('RefLogpCache', () => {
  it('computes each pair once; a second run reads the file instead of recomputing', async () => {
    const path = await tmp();
    const first = fakeReference();
    const c1 = await RefLogpCache.open(path, { context: 'ref=init;tok=char', perToken: true });
    const v1 = await c1.ensure([...pairs, pairs[0]], first.compute); // a duplicate in the same call is computed once
    expect(first.calls.map((c) => c.length)).toEqual([3]);
    expect(c1.stats).toEqual({ hits: 0, computed: 3 });
    expect(v1[3]).toEqual(v1[0]);
    await c1.close();

    const second = fakeReference();
    const c2 = await RefLogpCache.open(path, { context: 'ref=init;tok=char', perToken: true });
    expect(c2.size).toBe(3);
    const v2 = await c2.ensure(pairs, second.compute);
    expect(second.calls.length).toBe(0);
    expect(c2.stats).toEqual({ hits: 3, computed: 0 });
    expect(v2).toEqual(v1.slice(0, 3));
    // a new pair alone is computed; the old ones still come from the file
    await c2.ensure([pairs[1], pair(4)], second.compute);
    expect(second.calls.map((c) => c.map((p) => p.problemId))).toEqual([['p4']]);
    await c2.close();
    expect((await readFile(path, 'utf8')).trim().split('\n').length).toBe(4);
  });

  it('overlapping calls are serialised: a pair missing in both is computed once', async () => {
    const r = fakeReference();
    const c = await RefLogpCache.open(await tmp(), { context: 'ctx' });
    const [a, b] = await Promise.all([c.ensure(pairs, r.compute), c.ensure([pairs[2], pair(5)], r.compute)]);
    expect(r.calls.map((x) => x.length)).toEqual([3, 1]);
    expect(b[0]).toEqual(a[2]);
    await c.close();
  });

  it('a different context (reference model, tokenizer, options) never reads stale values', async () => {
    const path = await tmp();
    const r = fakeReference();
    const a = await RefLogpCache.open(path, { context: 'ref=init' });
    await a.ensure(pairs, r.compute);
    await a.close();
    expect(refPairKey(pairs[0], 'ref=init')).not.toBe(refPairKey(pairs[0], 'ref=sft'));
    const b = await RefLogpCache.open(path, { context: 'ref=sft' });
    await b.ensure(pairs, r.compute);
    expect(r.calls.length).toBe(2);
    await b.close();
  });

  it('resumes after a crash that left a partial last line', async () => {
    const path = await tmp();
    const r = fakeReference();
    const a = await RefLogpCache.open(path, { context: 'ctx', perToken: true });
    await a.ensure(pairs.slice(0, 2), r.compute);
    await a.close();
    await appendFile(path, '{"schema":"stepwise.ref-logps@1","key":"abc","sums":[-1.5,'); // cut short
    const b = await RefLogpCache.open(path, { context: 'ctx', perToken: true });
    await b.ensure(pairs, r.compute);
    expect(r.calls.map((c) => c.map((p) => p.problemId))).toEqual([['p1', 'p2'], ['p3']]);
    await b.close();
  });

  it('lays values out like the batch, and refuses mismatched or incomplete entries', async () => {
    const path = await tmp();
    const r = fakeReference();
    const c = await RefLogpCache.open(path, { context: 'ctx', perToken: true });
    const refs = await c.ensure(pairs, r.compute);
    const batch = buildPairBatch(tok, pairs);
    const { reference, refTokenLogps } = referenceInputs(batch, refs);
    expect(reference[1]).toBeCloseTo(refs[0].sums[1], 12);
    let sum = 0;
    for (let x = batch.seqOffsets[1]; x < batch.seqOffsets[2]; x++) sum += refTokenLogps![x];
    expect(sum).toBeCloseTo(refs[0].sums[1], 12);
    expect(() => referenceInputs(buildPairBatch(tok, pairs, { eos: true }), refs)).toThrow(ArgumentError);
    await expect(c.ensure([pair(9)], async () => [{ sums: [-1, Number.NaN] }])).rejects.toThrow(/compute result 0/);
    await expect(c.ensure([pair(9)], async () => [])).rejects.toThrow(ArgumentError);
    await c.close();
    // a sums-only cache cannot serve Full-Step-DPO's per-token needs
    const other = await tmp();
    const sumsOnly = await RefLogpCache.open(other, { context: 'ctx' });
    await sumsOnly.ensure(pairs, async (t) => t.map(() => ({ sums: [-3.5, -4.25] as [number, number] })));
    await sumsOnly.close();
    const wantTokens = await RefLogpCache.open(other, { context: 'ctx', perToken: true });
    await expect(wantTokens.ensure(pairs, r.compute)).rejects.toThrow(/options.perToken/);
    await wantTokens.close();
    await expect(RefLogpCache.open(path, { context: '' })).rejects.toThrow(/options.context/);
  });
});
