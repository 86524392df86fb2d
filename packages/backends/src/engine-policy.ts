/**
 * EnginePolicy: search's `Policy` over the native engine, with one KV-cache sequence per prefix state.
 *
 * - A state's `handle` is the engine `Sequence` holding BOS + prompt + every step and its separator. A child's
 *   handle is the fork of its parent's sequence that generated the child's step, so a tree node's K/V are
 *   computed once and shared (block by block) by all its children; nothing along a path is recomputed.
 * - `expand(states, n)` prefills every distinct parent once, forks each n times and generates ALL forks of ALL
 *   states in ONE batched `generate` call, stopping each at the step separator or EOS.
 * - States without a handle (roots, or a search that rebuilt a state from text) get a sequence from their text.
 *   Such sequences are kept in a small prompt cache keyed by text, so best-of-N from the root or repeated root
 *   expansions share the prompt's K/V too.
 *
 * Calls are serialised (the cache runs one native job at a time), so concurrent searches may share one policy.
 */
import { CharTokenizer, type Problem, type Tokenizer } from '@stepwise/core';
import { KVCache, type Model, type Sequence } from '@stepwise/native';
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
  private queue: Promise<unknown> = Promise.resolve();

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
    // Serialise: a second native job on the same cache would fail with BusyError.
    const run = this.queue.then(() => this.expandNow(states, n, opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async expandNow(states: readonly PrefixState[], n: number, opts: SampleOptions): Promise<StepCandidate[][]> {
    if (!Array.isArray(states)) throw new BackendArgumentError('states', 'an array of prefix states', states);
    requireNonNegInt('n', n);
    if (opts === null || typeof opts !== 'object') throw new BackendArgumentError('opts', 'sampling options', opts);
    const temperature = requireRange('opts.temperature', opts.temperature, 0, 1e6);
    const topP = requireRange('opts.topP', opts.topP ?? 1, 0, 1);
    const topK = requireNonNegInt('opts.topK', opts.topK ?? 0);
    const maxStep = requirePosInt('opts.maxStepTokens', opts.maxStepTokens ?? this.defaultStepTokens);
    const seed = requireNonNegInt('opts.seed', opts.seed ?? 0);
    this.stats.expandCalls++;
    if (states.length === 0 || n === 0) return states.map(() => []);

    const parents = states.map((s, i) => this.parentOf(s, i));
    try {
      return await this.sample(states.length, parents, n, { temperature, topP, topK, maxStep, seed });
    } finally {
      this.trimPromptCache();
    }
  }

  private async sample(
    count: number,
    parents: Sequence[],
    n: number,
    o: { temperature: number; topP: number; topK: number; maxStep: number; seed: number },
  ): Promise<StepCandidate[][]> {
    // Compute every distinct parent through its second-to-last token once, so the forks share it.
    await this.cache.prefill([...new Set(parents)]);
    const forks = parents.flatMap((p) => p.fork(n));
    this.stats.generateCalls++;
    const gens = await this.cache.generate(forks, {
      maxNewTokens: o.maxStep,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      stopTokenIds: this.eosId === null ? [this.sepId] : [this.sepId, this.eosId],
    });
    return Array.from({ length: count }, (_, i) =>
      gens.slice(i * n, (i + 1) * n).map((g, j) => {
        const ids = Array.from(g.tokens);
        const last = ids.at(-1);
        const endsWithSep = g.finish === 'stop' && last === this.sepId;
        const endsWithEos = g.finish === 'stop' && last === this.eosId;
        // The step's text excludes its stop token; its ids and log-probs include it (it was sampled too).
        const text = this.tokenizer.decode(g.finish === 'stop' ? ids.slice(0, -1) : ids);
        // A step cut by the step or context length cannot be continued as a well-formed step: it ends the solution.
        const terminal = text.includes(this.marker) || endsWithEos || !endsWithSep;
        this.stats.candidates++;
        this.stats.tokensGenerated += ids.length;
        return { text, tokenIds: ids, tokenLogprobs: Array.from(g.logprobs), terminal, handle: forks[i * n + j] };
      }),
    );
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
    this.prompts.clear();
    this.cache.dispose();
  }
}
