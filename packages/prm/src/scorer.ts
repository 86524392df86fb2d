/** The trained verifier as a StepScorer: value of prefix k = p(+) / (p(+) + p(-)) on step k's separator row. */
import { CharTokenizer, type Problem } from '@stepwise/core';
import type { Model } from '@stepwise/native';
import type { StepScorer } from '@stepwise/search';

import { encodeSolution, labelIds, type EncodedSolution, type LabelIds } from './encode.js';
import { PrmArgumentError } from './errors.js';
import { sigmoid } from './loss.js';

export interface PrmScorerOptions {
  tokenizer?: CharTokenizer;
  /** Most tokens per logits call (bounds the [tokens, vocab] logits buffer). Default: 16384. */
  maxBatchTokens?: number;
  name?: string;
}

export class PrmScorer implements StepScorer {
  readonly name: string;
  private readonly tokenizer: CharTokenizer;
  private readonly ids: LabelIds;
  private readonly maxBatchTokens: number;

  constructor(
    readonly model: Model,
    opts: PrmScorerOptions = {},
  ) {
    this.tokenizer = opts.tokenizer ?? new CharTokenizer();
    if (this.tokenizer.vocabSize > model.config.vocabSize)
      throw new PrmArgumentError('tokenizer', `a vocabulary of at most the model's ${model.config.vocabSize} tokens`, this.tokenizer.vocabSize);
    this.ids = labelIds(this.tokenizer);
    this.maxBatchTokens = opts.maxBatchTokens ?? 16384;
    if (!Number.isInteger(this.maxBatchTokens) || this.maxBatchTokens < 1) throw new PrmArgumentError('maxBatchTokens', 'a positive integer', this.maxBatchTokens);
    this.name = opts.name ?? 'prm:engine';
  }

  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    return (await this.scoreMany([{ problem, steps }]))[0]!;
  }

  /** Scores many solutions, packing them into as few logits calls as maxBatchTokens allows. */
  async scoreMany(items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]> {
    const enc = items.map((it, i) => {
      if (!it || typeof it.problem?.question !== 'string') throw new PrmArgumentError(`items[${i}].problem`, 'a Problem with a question');
      return encodeSolution(this.tokenizer, it.problem.question, it.steps, this.model.config.maxSeqLen);
    });
    const out: number[][] = new Array(items.length);
    let start = 0;
    while (start < enc.length) {
      let end = start;
      let len = 0;
      while (end < enc.length && (end === start || len + enc[end]!.tokens.length <= this.maxBatchTokens)) len += enc[end++]!.tokens.length;
      await this.scoreChunk(enc, start, end, out);
      start = end;
    }
    return out;
  }

  private async scoreChunk(enc: readonly EncodedSolution[], start: number, end: number, out: number[][]): Promise<void> {
    const chunk = enc.slice(start, end).filter((e) => e.stepEnds.length > 0);
    for (let i = start; i < end; i++) if (enc[i]!.stepEnds.length === 0) out[i] = [];
    if (chunk.length === 0) return;
    const offsets = [0];
    for (const e of chunk) offsets.push(offsets.at(-1)! + e.tokens.length);
    const tokens = new Int32Array(offsets.at(-1)!);
    chunk.forEach((e, j) => tokens.set(e.tokens, offsets[j]!));
    const V = this.model.config.vocabSize;
    const logits = await this.model.logits({ tokens, offsets });
    let j = 0;
    for (let i = start; i < end; i++) {
      const e = enc[i]!;
      if (e.stepEnds.length === 0) continue;
      const base = offsets[j++]!;
      // softmax over {z+, z-} = sigmoid(z+ - z-): the rest of the vocabulary does not enter the score.
      out[i] = e.stepEnds.map((r) => sigmoid(logits[(base + r) * V + this.ids.good]! - logits[(base + r) * V + this.ids.bad]!));
    }
  }
}
