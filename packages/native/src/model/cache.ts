/**
 * Generation with a paged KV cache and forkable prefixes.
 *
 * A Sequence is a handle to tokens whose keys/values live in the cache's blocks. `fork(c)` gives c children
 * that share every block of the parent (nothing is recomputed or copied; a shared, partially filled last block
 * is copied on the first write). The last token of a sequence is "pending": it is computed by the next
 * generate/advance call, which needs its logits anyway.
 *
 * Memory: `budgetTokens` of K/V (rounded up to whole blocks of `blockSize`) are allocated at creation, i.e.
 * budgetTokens x numLayers x 2 x numKvHeads x headDim values. When a call needs a block and none is free, the
 * least recently used sequence not in that call is evicted: it keeps its tokens, loses its K/V, and recomputes
 * them the next time it is used. A call whose own sequences cannot fit throws CacheBudgetError.
 * Release sequences you no longer need (release() or dispose the cache).
 */
import { loadBinding } from '../binding.js';
import { ArgumentError, DisposedError } from '../errors.js';
import type { IntArrayLike } from './batch.js';
import { callNative } from './errors.js';
import type { FloatArray, Model } from './model.js';

export interface KVCacheOptions {
  /** Tokens of K/V the cache may hold (all sequences together). Required. */
  budgetTokens: number;
  /** Tokens per block (the unit of sharing and copy-on-write). Default: 16. */
  blockSize?: number;
}

export interface SampleOptions {
  /** Tokens to generate at most. Default: 16. */
  maxNewTokens?: number;
  /** 0 = greedy (argmax). Default: 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. Default: 0. */
  topK?: number;
  /** Keep the smallest set with probability >= topP (after topK); 1 = off. Default: 1. */
  topP?: number;
  /** Sequence i of a call samples from a stream seeded by (seed, i). Default: 0. */
  seed?: number;
  /**
   * Per-sequence streams, overriding `seed`: sequence i samples from the stream of (streams[i].seed,
   * streams[i].index), the one it would get as sequence `index` of a call with that seed. A caller that merges
   * several calls into one batch passes each sequence's original (seed, position) and every sequence draws as
   * its own call would have. One entry per sequence.
   */
  streams?: readonly { seed: number; index: number }[];
  /** Generation of a sequence stops after any of these (the stop token is included). Default: none. */
  stopTokenIds?: readonly number[];
}

export interface Generation {
  /** The new tokens (also appended to the sequence). */
  tokens: Int32Array;
  /** log softmax of the model's raw (untempered) logits at each new token. */
  logprobs: Float32Array;
  /** 'length' (maxNewTokens), 'stop' (a stop token) or 'max_seq_len'. */
  finish: 'length' | 'stop' | 'max_seq_len';
}

export interface CacheStats {
  numBlocks: number;
  freeBlocks: number;
  blockSize: number;
  sequences: number;
  evictions: number;
  recomputedTokens: number;
  computedTokens: number;
  copyOnWrite: number;
}

const i32 = (x: IntArrayLike): Int32Array => (x instanceof Int32Array ? x : Int32Array.from(x));

export class Sequence {
  private _released = false;
  /** @internal */
  constructor(
    readonly cache: KVCache,
    readonly id: number,
  ) {}

  get released(): boolean {
    return this._released;
  }

  /** @internal */
  live(what: string): void {
    if (this._released) throw new DisposedError(`${what}: the sequence was released`);
  }

  /** All tokens of the sequence (prompt and generated). */
  tokens(): Int32Array {
    this.live('sequence.tokens');
    return this.cache.call('sequence.tokens', (h) => h.tokens(this.id));
  }

  /** Adds known tokens (e.g. the next step's prompt text); they are computed by the next call. */
  append(tokens: IntArrayLike): void {
    this.live('sequence.append');
    this.cache.call('sequence.append', (h) => h.append(this.id, i32(tokens)));
  }

  /** `count` children sharing this sequence's cache (no recompute). */
  fork(count: number): Sequence[] {
    this.live('sequence.fork');
    if (!Number.isInteger(count) || count < 0) throw new ArgumentError('count', 'a non-negative integer', String(count));
    const ids: number[] = this.cache.call('sequence.fork', (h) => h.fork(this.id, count));
    return ids.map((id) => new Sequence(this.cache, id));
  }

  /** Frees this sequence's share of the cache. Idempotent. */
  release(): void {
    if (this._released || this.cache.disposed) return;
    this._released = true;
    this.cache.call('sequence.release', (h) => h.release(this.id));
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

export class KVCache {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly handle: any;
  private _disposed = false;

  constructor(
    readonly model: Model,
    opts: KVCacheOptions,
  ) {
    model.assertLive('new KVCache');
    if (!Number.isInteger(opts?.budgetTokens) || opts.budgetTokens <= 0)
      throw new ArgumentError('budgetTokens', 'a positive integer', String(opts?.budgetTokens));
    const blockSize = opts.blockSize ?? 16;
    const Raw = loadBinding().KVCacheHandle;
    this.handle = callNative(() => new Raw(model.handle, { budgetTokens: opts.budgetTokens, blockSize }));
  }

  get disposed(): boolean {
    return this._disposed;
  }

  /** @internal */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call<T>(what: string, fn: (h: any) => T): T {
    if (this._disposed) throw new DisposedError(`${what}: the cache was disposed`);
    this.model.assertLive(what);
    return callNative(() => fn(this.handle));
  }

  private ids(seqs: readonly Sequence[], what: string): number[] {
    return seqs.map((s, i) => {
      if (s.cache !== this) throw new ArgumentError(`sequences[${i}]`, 'a sequence of this cache');
      s.live(what);
      return s.id;
    });
  }

  /** A new sequence holding `tokens` (nothing computed until prefill / generate). */
  sequence(tokens: IntArrayLike): Sequence {
    const id: number = this.call('cache.sequence', (h) => h.create(i32(tokens)));
    return new Sequence(this, id);
  }

  /** Computes the K/V of every token but the pending last one, so forks share it. */
  async prefill(seqs: readonly Sequence[]): Promise<void> {
    const ids = this.ids(seqs, 'cache.prefill');
    await this.call('cache.prefill', (h) => h.prefill(ids));
  }

  /** Computes each sequence through its last token; logits [seqs.length, vocabSize] of those tokens. */
  async advance(seqs: readonly Sequence[]): Promise<FloatArray> {
    const ids = this.ids(seqs, 'cache.advance');
    return this.call('cache.advance', (h) => h.advance(ids));
  }

  /** Samples continuations of all sequences together (batched decode); the tokens are appended to them. */
  async generate(seqs: readonly Sequence[], opts: SampleOptions = {}): Promise<Generation[]> {
    const ids = this.ids(seqs, 'cache.generate');
    const o = {
      maxNewTokens: opts.maxNewTokens ?? 16,
      temperature: opts.temperature ?? 1,
      topK: opts.topK ?? 0,
      topP: opts.topP ?? 1,
      seed: opts.seed ?? 0,
      stopTokenIds: Int32Array.from(opts.stopTokenIds ?? []),
    };
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new ArgumentError('maxNewTokens', 'a non-negative integer', String(o.maxNewTokens));
    if (!Number.isInteger(o.topK) || o.topK < 0) throw new ArgumentError('topK', 'a non-negative integer', String(o.topK));
    if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new ArgumentError('seed', 'a non-negative safe integer', String(o.seed));
    if (opts.streams === undefined) return this.call('cache.generate', (h) => h.generate(ids, o));
    const streams = opts.streams;
    if (!Array.isArray(streams) || streams.length !== seqs.length)
      throw new ArgumentError('streams', `an array of ${seqs.length} { seed, index } (one per sequence)`, Array.isArray(streams) ? `${streams.length} entries` : String(streams));
    const streamSeeds = new Float64Array(streams.length);
    const streamIndex = new Int32Array(streams.length);
    streams.forEach((st, i) => {
      if (!Number.isSafeInteger(st?.seed) || st.seed < 0) throw new ArgumentError(`streams[${i}].seed`, 'a non-negative safe integer', String(st?.seed));
      if (!Number.isInteger(st.index) || st.index < 0 || st.index > 0x7fffffff) throw new ArgumentError(`streams[${i}].index`, 'an integer in [0, 2^31)', String(st.index));
      streamSeeds[i] = st.seed;
      streamIndex[i] = st.index;
    });
    return this.call('cache.generate', (h) => h.generate(ids, { ...o, streamSeeds, streamIndex }));
  }

  stats(): CacheStats {
    return this.call('cache.stats', (h) => h.stats());
  }

  /** Frees the cache's memory; its sequences become unusable. Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
