/**
 * EnginePolicy: search's `Policy` over the native engine, with one KV-cache sequence per prefix state.
 *
 * - A state's `handle` is the engine `Sequence` holding BOS + prompt + every step and its separator. A child's
 *   handle is the fork of its parent's sequence that generated the child's step, so a tree node's K/V are
 *   computed once and shared (block by block) by all its children; nothing along a path is recomputed.
 * - `expand(states, n)` prefills every distinct parent once, forks each n times and generates ALL forks of ALL
 *   states in ONE batched `generate` call, stopping each at the step separator or EOS.
 * - Concurrent `expand` calls (several searches sharing one policy, e.g. one per problem) are merged: the calls
 *   pending when the policy is free run as one prefill and one generate per sampling setting, and every row
 *   keeps the random stream of its own call (KVCache `streams`). A merged call draws from the streams it would
 *   use alone; only the logits may differ in their last bits, since the batch's GEMM shapes differ.
 * - States without a handle (roots, or a search that rebuilt a state from text) get a sequence from their text.
 *   Such sequences are kept in a small prompt cache keyed by text, so best-of-N from the root or repeated root
 *   expansions share the prompt's K/V too.
 *
 * Native jobs are serialised (the cache runs one at a time), so concurrent searches may share one policy.
 */
import { CharTokenizer, type Problem, type Tokenizer } from '@stepwise/core';
import { KVCache, type Generation, type Model, type Sequence } from '@stepwise/native';
import type { Policy, PrefixState, SampleOptions, StepCandidate } from '@stepwise/search';
import { promptText } from '@stepwise/tasks';

import { BackendArgumentError, requireNonNegInt, requirePosInt, requireRange } from './errors.js';

export interface EnginePolicyOptions {
  /** Tokenizer of the model. Default: core's CharTokenizer (the embedded task's). */
  tokenizer?: Tokenizer;
  /** The text a problem is conditioned on. Default: tasks' promptText(question) (question + "\n"). */
  renderPrompt?: (problem: Problem) => string;
  /** Text after every step; must encode to exactly one token (it is a stop token). Default "\n". */
  separator?: string;
  /** Start every sequence with the tokenizer's BOS (the trainer does the same). Default true. */
  addBos?: boolean;
  /** A step containing this text ends the solution. Default "The answer is". */
  finalAnswerMarker?: string;
  /** Tokens per step when SampleOptions.maxStepTokens is not given. Default 64. */
  maxStepTokens?: number;
  /**
   * K/V budget in tokens for all live sequences together. Default: cacheBytes / bytesPerToken, where
   * bytesPerToken = numLayers x 2 x numKvHeads x headDim x (4 for float32, 8 for float64).
   */
  cacheTokens?: number;
  /** Memory budget of the K/V pool when cacheTokens is not given. Default 256 MiB. */
  cacheBytes?: number;
  /** Tokens per cache block (the unit of sharing). Default 16. */
  blockSize?: number;
  /** Handle-less prompts whose sequences are kept for reuse (least recently used are released). Default 64. */
  promptCacheSize?: number;
}

interface Request {
  states: readonly PrefixState[];
  n: number;
  o: { temperature: number; topP: number; topK: number; maxStep: number; seed: number };
}
interface Pending extends Request {
  resolve(c: StepCandidate[][]): void;
  reject(err: unknown): void;
}

/** Counters since creation (tests and benchmarks read them next to the cache's own stats). */
export interface EnginePolicyStats {
  expandCalls: number;
  generateCalls: number;
  candidates: number;
  tokensGenerated: number;
  /** Sequences this policy created from text (roots), not by forking. */
  sequencesFromText: number;
}

export class EnginePolicy implements Policy {
  readonly tokenizer: Tokenizer;
  readonly cache: KVCache;
  readonly stats: EnginePolicyStats = { expandCalls: 0, generateCalls: 0, candidates: 0, tokensGenerated: 0, sequencesFromText: 0 };
  private readonly renderPrompt: (problem: Problem) => string;
  private readonly separator: string;
  private readonly sepId: number;
  private readonly eosId: number | null;
  private readonly addBos: boolean;
  private readonly marker: string;
  private readonly defaultStepTokens: number;
  private readonly promptCacheSize: number;
  /** text -> sequence of handle-less states; Map order is recency (re-inserted on use). */
  private readonly prompts = new Map<string, Sequence>();
  /** Requests waiting for the next batch, and whether a batch is running or scheduled. */
  private pending: Pending[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    readonly model: Model,
    opts: EnginePolicyOptions = {},
  ) {
    this.tokenizer = opts.tokenizer ?? new CharTokenizer();
    if (this.tokenizer.vocabSize > model.config.vocabSize)
      throw new BackendArgumentError('tokenizer', `a vocabulary of at most the model's ${model.config.vocabSize} tokens`, this.tokenizer.vocabSize);
    this.renderPrompt = opts.renderPrompt ?? ((p) => promptText(p.question));
    this.separator = opts.separator ?? '\n';
    const sep = this.tokenizer.encode(this.separator);
    if (sep.length !== 1) throw new BackendArgumentError('separator', 'text that encodes to exactly one token', this.separator);
    this.sepId = sep[0];
    this.eosId = this.tokenizer.eosId;
    this.addBos = opts.addBos ?? true;
    if (this.addBos && this.tokenizer.bosId === null) throw new BackendArgumentError('addBos', 'false for a tokenizer without a BOS token', true);
    this.marker = opts.finalAnswerMarker ?? 'The answer is';
    this.defaultStepTokens = requirePosInt('maxStepTokens', opts.maxStepTokens ?? 64);
    this.promptCacheSize = requireNonNegInt('promptCacheSize', opts.promptCacheSize ?? 64);
    const c = model.config;
    const bytesPerToken = c.numLayers * 2 * c.numKvHeads * c.headDim * (model.dtype === 'float64' ? 8 : 4);
    const cacheTokens = opts.cacheTokens ?? Math.floor(requirePosInt('cacheBytes', opts.cacheBytes ?? 256 * 2 ** 20) / bytesPerToken);
    requirePosInt('cacheTokens', cacheTokens);
    this.cache = new KVCache(model, { budgetTokens: cacheTokens, blockSize: requirePosInt('blockSize', opts.blockSize ?? 16) });
  }

  /** Token ids of a state's full text: [BOS] prompt, then each step followed by the separator. */
  encodeState(problem: Problem, steps: readonly string[]): number[] {
    const text = this.renderPrompt(problem) + steps.map((s) => s + this.separator).join('');
    const ids = this.tokenizer.encode(text);
    return this.addBos ? [this.tokenizer.bosId!, ...ids] : ids;
  }

  expand(states: readonly PrefixState[], n: number, opts: SampleOptions): Promise<StepCandidate[][]> {
    let req: Request;
    try {
      req = this.validate(states, n, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    this.stats.expandCalls++;
    if (states.length === 0 || n === 0) return Promise.resolve(states.map(() => []));
    return new Promise((resolve, reject) => {
      this.pending.push({ ...req, resolve, reject });
      this.schedule();
    });
  }

  private validate(states: readonly PrefixState[], n: number, opts: SampleOptions): Request {
    if (!Array.isArray(states)) throw new BackendArgumentError('states', 'an array of prefix states', states);
    requireNonNegInt('n', n);
    if (opts === null || typeof opts !== 'object') throw new BackendArgumentError('opts', 'sampling options', opts);
    const o = {
      temperature: requireRange('opts.temperature', opts.temperature, 0, 1e6),
      topP: requireRange('opts.topP', opts.topP ?? 1, 0, 1),
      topK: requireNonNegInt('opts.topK', opts.topK ?? 0),
      maxStep: requirePosInt('opts.maxStepTokens', opts.maxStepTokens ?? this.defaultStepTokens),
      seed: requireNonNegInt('opts.seed', opts.seed ?? 0),
    };
    return { states, n, o };
  }

  /**
   * Runs the pending requests once every caller waiting on the last batch has had its turn: setImmediate fires
   * after the microtasks in which resolved searches issue their next expand, so concurrent searches (one per
   * problem of a window, say) meet in the same batch, and which requests meet depends only on the callers.
   */
  private schedule(): void {
    if (this.running || this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    const batch = this.pending.splice(0);
    try {
      // Requests with the same sampling settings share one generate call (temperature etc. are per call).
      const groups = new Map<string, Pending[]>();
      for (const r of batch) {
        const key = `${r.o.temperature}/${r.o.topP}/${r.o.topK}/${r.o.maxStep}`;
        const group = groups.get(key);
        if (group) group.push(r);
        else groups.set(key, [r]);
      }
      for (const group of groups.values()) await this.runGroup(group);
    } finally {
      this.trimPromptCache();
      this.running = false;
      this.schedule();
    }
  }

  /** One prefill and one generate for a group of requests; each request gets its own candidates (or error). */
  private async runGroup(group: Pending[]): Promise<void> {
    const live: { r: Pending; parents: Sequence[] }[] = [];
    for (const r of group) {
      try {
        live.push({ r, parents: r.states.map((s, i) => this.parentOf(s, i)) });
      } catch (err) {
        r.reject(err);
      }
    }
    if (live.length === 0) return;
    try {
      // Compute every distinct parent through its second-to-last token once, so the forks share it.
      await this.cache.prefill([...new Set(live.flatMap((l) => l.parents))]);
      const forks = live.map((l) => l.parents.flatMap((p) => p.fork(l.r.n)));
      // Row j of a request draws from the stream (its seed, j): exactly what its own generate call would draw.
      const streams = live.flatMap((l, k) => forks[k].map((_, j) => ({ seed: l.r.o.seed, index: j })));
      const o = live[0].r.o;
      this.stats.generateCalls++;
      const gens = await this.cache.generate(forks.flat(), {
        maxNewTokens: o.maxStep,
        temperature: o.temperature,
        topK: o.topK,
        topP: o.topP,
        streams,
        stopTokenIds: this.eosId === null ? [this.sepId] : [this.sepId, this.eosId],
      });
      let at = 0;
      live.forEach((l, k) => {
        const mine = gens.slice(at, at + forks[k].length);
        at += forks[k].length;
        l.r.resolve(l.r.states.map((_, i) => mine.slice(i * l.r.n, (i + 1) * l.r.n).map((g, j) => this.candidate(g, forks[k][i * l.r.n + j]))));
      });
    } catch (err) {
      for (const l of live) l.r.reject(err);
    }
  }

  private candidate(g: Generation, handle: Sequence): StepCandidate {
    const ids = Array.from(g.tokens);
    const last = ids.at(-1);
    const endsWithSep = g.finish === 'stop' && last === this.sepId;
    const endsWithEos = g.finish === 'stop' && last === this.eosId;
    // The step's text excludes its stop token; its ids and log-probs include it (it was sampled too).
    const text = this.tokenizer.decode(g.finish === 'stop' ? ids.slice(0, -1) : ids);
    // A step cut by the step or context length cannot be continued as a well-formed step, and one holding a
    // token without a text form (BOS / PAD from an untrained model) would tokenize differently when a
    // consumer re-encodes the text: both end the solution.
    const textless = ids.some((id) => id === this.tokenizer.bosId || id === this.tokenizer.padId);
    const terminal = text.includes(this.marker) || endsWithEos || !endsWithSep || textless;
    this.stats.candidates++;
    this.stats.tokensGenerated += ids.length;
    return { text, tokenIds: ids, tokenLogprobs: Array.from(g.logprobs), terminal, handle };
  }

  /** The sequence a state continues from: its handle, else a (cached) sequence built from its text. */
  private parentOf(state: PrefixState, i: number): Sequence {
    if (state === null || typeof state !== 'object') throw new BackendArgumentError(`states[${i}]`, 'a prefix state', state);
    if (state.handle !== undefined) {
      const h = state.handle as Sequence;
      if (typeof h !== 'object' || h === null || (h as { cache?: unknown }).cache !== this.cache)
        throw new BackendArgumentError(`states[${i}].handle`, 'a handle returned by this EnginePolicy', state.handle);
      if (h.released) throw new BackendArgumentError(`states[${i}].handle`, 'a handle that was not released', 'a released sequence');
      return h;
    }
    const key = this.renderPrompt(state.problem) + state.steps.map((s) => s + this.separator).join('');
    const hit = this.prompts.get(key);
    if (hit) {
      this.prompts.delete(key);
      this.prompts.set(key, hit);
      return hit;
    }
    const seq = this.cache.sequence(this.encodeState(state.problem, state.steps));
    this.stats.sequencesFromText++;
    this.prompts.set(key, seq);
    return seq;
  }

  /** Drops the least recently used prompts beyond the cache size (after a call, never during one). */
  private trimPromptCache(): void {
    while (this.prompts.size > this.promptCacheSize) {
      const [oldKey, old] = this.prompts.entries().next().value as [string, Sequence];
      // Forks already made from it keep their shared blocks (reference counted natively).
      this.prompts.delete(oldKey);
      old.release();
    }
  }

  /** Frees the caches of handles the caller no longer needs (children keep the blocks they share). */
  release(handles: readonly unknown[]): void {
    for (const h of handles) {
      if (h === undefined || h === null) continue;
      const s = h as Sequence;
      if ((s as { cache?: unknown }).cache !== this.cache) throw new BackendArgumentError('handles', 'handles returned by this EnginePolicy', h);
      s.release();
    }
  }

  /** Releases the prompt cache's sequences (e.g. between problems). Handles held by callers stay valid. */
  clearPromptCache(): void {
    for (const s of this.prompts.values()) s.release();
    this.prompts.clear();
  }

  /** Frees the whole K/V pool; the policy is unusable afterwards. */
  dispose(): void {
    // Calls still waiting for a batch would otherwise never settle.
    for (const r of this.pending.splice(0)) r.reject(new BackendArgumentError('policy', 'a policy that was not disposed', 'disposed while the call waited'));
    this.prompts.clear();
    this.cache.dispose();
  }
}
