/**
 * Reference log-prob cache (methods.md §13): π_ref is frozen, so its log-probs are a constant of each pair.
 * They are computed once, appended to a JSONL file (core's ResumableJsonl: crash-safe, resumable, no
 * duplicate keys), and read back on every later epoch or run. Full-Step-DPO needs them per completion
 * position; the other losses only need the two completion sums, so per-token storage is optional.
 *
 * The key hashes the pair's text (prompt, prefix, both completions) and a caller-given `context` string
 * that must name everything else the numbers depend on — the reference checkpoint, the tokenizer and the
 * batch options (BOS/EOS, mode) — so a changed setting never reads stale values.
 */
import { createHash } from 'node:crypto';
import { readJsonl, ResumableJsonl, ValidationError, type PreferencePair } from '@stepwise/core';
import { pairKey } from '@stepwise/pairs';
import { ArgumentError } from './errors.js';
import type { PairBatch } from './batch.js';

export const REF_LOGPS_SCHEMA = 'stepwise.ref-logps@1';

/** The reference numbers of one pair. */
export interface RefLogps {
  /** Completion log-prob sums: [chosen, rejected]. */
  sums: [number, number];
  /** Per completion position (stepIndex ≥ 0, in order): [chosen, rejected]. Present when perToken. */
  tokens?: [number[], number[]];
}

export interface RefLogpsRecord extends RefLogps {
  schema: typeof REF_LOGPS_SCHEMA;
  key: string;
}

/** Stable key of a pair under a context (see the module comment). */
export function refPairKey(pair: PreferencePair, context: string): string {
  return createHash('sha256').update(JSON.stringify([context, pair.schema, pair.prompt, pairKey(pair)])).digest('hex');
}

function validateRecord(v: unknown): RefLogpsRecord {
  const r = v as Partial<RefLogpsRecord>;
  if (typeof r !== 'object' || r === null || r.schema !== REF_LOGPS_SCHEMA) throw new ValidationError('schema', REF_LOGPS_SCHEMA, r?.schema);
  if (typeof r.key !== 'string' || r.key.length === 0) throw new ValidationError('key', 'a non-empty string', r.key);
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!Array.isArray(r.sums) || r.sums.length !== 2 || !r.sums.every(finite)) throw new ValidationError('sums', 'two finite numbers', r.sums);
  if (r.tokens !== undefined) {
    if (!Array.isArray(r.tokens) || r.tokens.length !== 2) throw new ValidationError('tokens', 'two arrays', r.tokens);
    r.tokens.forEach((t, side) => {
      if (!Array.isArray(t) || !t.every(finite)) throw new ValidationError(`tokens[${side}]`, 'an array of finite numbers', t);
    });
  }
  return r as RefLogpsRecord;
}

export interface RefCacheOptions {
  /** Names the reference model, tokenizer and batch options (part of every key). */
  context: string;
  /** Store and require per-token values (Full-Step-DPO). Default false. */
  perToken?: boolean;
}

/** Computes the reference numbers of the given (missing) pairs, in order. */
export type RefCompute = (pairs: readonly PreferencePair[]) => Promise<RefLogps[]>;

export class RefLogpCache {
  /** Pairs answered from the cache and pairs computed, since open. */
  readonly stats = { hits: 0, computed: 0 };
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: ResumableJsonl<RefLogpsRecord>,
    private readonly entries: Map<string, RefLogps>,
    readonly context: string,
    readonly perToken: boolean,
  ) {}

  static async open(path: string, options: RefCacheOptions): Promise<RefLogpCache> {
    if (typeof options?.context !== 'string' || options.context.length === 0) throw new ArgumentError('options.context', 'a non-empty string', options?.context);
    const { records } = await readJsonl(path, { validate: validateRecord });
    const entries = new Map(records.map((r): [string, RefLogps] => [r.key, r.tokens ? { sums: r.sums, tokens: r.tokens } : { sums: r.sums }]));
    const file = await ResumableJsonl.open(path, { validate: validateRecord, key: (r) => r.key });
    return new RefLogpCache(file, entries, options.context, options.perToken ?? false);
  }

  get size(): number {
    return this.entries.size;
  }

  key(pair: PreferencePair): string {
    return refPairKey(pair, this.context);
  }

  /**
   * The reference numbers of every pair, in order: cached ones are read, the others computed with ONE call
   * of `compute` (each distinct pair once) and appended with one write before returning.
   */
  ensure(pairs: readonly PreferencePair[], compute: RefCompute): Promise<RefLogps[]> {
    // Calls run one after another: two overlapping calls missing the same pair would both compute it and
    // the second append would be refused as a duplicate key.
    const run = this.queue.then(() => this.ensureNow(pairs, compute));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async ensureNow(pairs: readonly PreferencePair[], compute: RefCompute): Promise<RefLogps[]> {
    const keys = pairs.map((p) => this.key(p));
    const missing = new Map<string, PreferencePair>();
    keys.forEach((k, i) => {
      const e = this.entries.get(k);
      if (e && (!this.perToken || e.tokens)) return;
      if (e) throw new ArgumentError('options.perToken', 'a cache written with per-token values', `entry ${k} has sums only`);
      missing.set(k, pairs[i]);
    });
    // A hit is a request answered by what was cached before this call (a duplicate of a missing pair is not).
    this.stats.hits += keys.filter((k) => !missing.has(k)).length;
    if (missing.size > 0) {
      const todo = [...missing.values()];
      const values = await compute(todo);
      if (!Array.isArray(values) || values.length !== todo.length) throw new ArgumentError('compute', `one result per missing pair (${todo.length})`, Array.isArray(values) ? `${values.length}` : typeof values);
      const records = [...missing.keys()].map((key, i): RefLogpsRecord => {
        const v = values[i];
        const rec = { schema: REF_LOGPS_SCHEMA, key, sums: v?.sums, ...(this.perToken || v?.tokens ? { tokens: v?.tokens } : {}) };
        try {
          return validateRecord(JSON.parse(JSON.stringify(rec)));
        } catch (err) {
          throw new ArgumentError(`compute result ${i}`, (err as Error).message);
        }
      });
      await this.file.appendBatch(records);
      for (const r of records) this.entries.set(r.key, r.tokens ? { sums: r.sums, tokens: r.tokens } : { sums: r.sums });
      this.stats.computed += records.length;
    }
    return keys.map((k) => this.entries.get(k)!);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Lays cached reference numbers out like the batch: `reference` [S] sums for the DPO-family losses and,
 * when every entry has them, `refTokenLogps` [T] on completion positions (0 elsewhere) for Full-Step-DPO.
 * A per-token list whose length differs from the batch's completion count is an error (tokenisation or
 * options changed without changing the cache context).
 */
export function referenceInputs(batch: PairBatch, refs: readonly RefLogps[]): { reference: Float64Array; refTokenLogps: Float64Array | null } {
  const s = batch.completionTokens.length;
  if (refs.length * 2 !== s) throw new ArgumentError('refs', `one entry per pair (${s / 2})`, `${refs.length}`);
  const reference = new Float64Array(s);
  const perToken = refs.every((r) => r.tokens);
  const refTokenLogps = perToken ? new Float64Array(batch.inputIds.length) : null;
  refs.forEach((r, p) => {
    for (const side of [0, 1] as const) {
      const q = 2 * p + side;
      reference[q] = r.sums[side];
      if (!refTokenLogps) continue;
      const t = r.tokens![side];
      if (t.length !== batch.completionTokens[q]) throw new ArgumentError(`refs[${p}].tokens[${side}]`, `${batch.completionTokens[q]} values (the batch's completion tokens)`, `${t.length}`);
      let i = 0;
      for (let x = batch.seqOffsets[q]; x < batch.seqOffsets[q + 1]; x++) if (batch.stepIndex[x] >= 0) refTokenLogps[x] = t[i++];
    }
  });
  return { reference, refTokenLogps };
}

/**
 * The inverse of referenceInputs: per-pair RefLogps from a reference forward's per-position log-probs over
 * `batch` — what a RefCompute usually returns after running π_ref on a batch of the missing pairs.
 */
export function refLogpsFromTokens(batch: PairBatch, tokenLogps: ArrayLike<number>, perToken: boolean): RefLogps[] {
  if (tokenLogps.length !== batch.inputIds.length) throw new ArgumentError('tokenLogps', `length ${batch.inputIds.length}`, `length ${tokenLogps.length}`);
  return batch.pairs.map((_, p) => {
    const side = (q: number) => {
      const t: number[] = [];
      for (let x = batch.seqOffsets[q]; x < batch.seqOffsets[q + 1]; x++) if (batch.stepIndex[x] >= 0) t.push(tokenLogps[x]);
      return t;
    };
    const [c, r] = [side(2 * p), side(2 * p + 1)];
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    return perToken ? { sums: [sum(c), sum(r)], tokens: [c, r] } : { sums: [sum(c), sum(r)] };
  });
}
