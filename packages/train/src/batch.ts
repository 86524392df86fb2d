/**
 * Packed pair batches: the exact inputs a packed forward needs, built from StepPair / SequencePair records
 * with core's `alignSteps` (methods.md §1.2, §13).
 *
 * Layout. Pair p owns sequences 2p (chosen) and 2p + 1 (rejected); sequence q occupies packed positions
 * [seqOffsets[q], seqOffsets[q+1]). Position x feeds `inputIds[x]` and is scored on `targets[x]`, the NEXT
 * token of its sequence (−1 on each sequence's last position: nothing to predict). Everything per position
 * describes the TARGET, because that is what the log-prob at x is a probability of:
 *   stepIndex[x]    completion step of the target (0 = first completion step); −1 = prompt, prefix steps,
 *                   BOS, or no target — masked out of every loss;
 *   tokenRewards[x] the target step's reward (SequencePair step rewards; StepPair: the step's value), 0 masked.
 *
 * Texts. StepPair: prompt + prefixSteps + chosen (or rejected); the prefix steps are masked, so the
 * completion is the single step (Step-DPO, SPPD, SVPO). SequencePair: prompt + chosenSteps (rejectedSteps).
 * Joint tokenisation (alignSteps' default) follows Step-DPO: a token merged across the prefix/completion
 * boundary counts as completion, and the masked lengths of the two sequences may then differ by one token;
 * more than one is an error, as in Step-DPO's trainer.
 *
 * Shared prefix. Both sequences of a pair start with the same text, so their first `sharedPrefix[p]` input
 * ids are identical and (attention being causal) so are all hidden states there: pairForwardLayout
 * (shared-prefix.ts) computes those positions once, as a segment both sides continue. Log-probs at positions below
 * sharedPrefix[p] − 1 are identical too; at sharedPrefix[p] − 1 the targets already differ.
 */
import { alignSteps, type AlignOptions, type PreferencePair, type Tokenizer } from '@stepwise/core';
import { ArgumentError } from './errors.js';
import type { FloatArray } from './losses/kernels.js';

export interface BatchOptions {
  /** alignSteps mode. Default 'joint' (tokenise the text as the model sees it). */
  mode?: AlignOptions['mode'];
  /** Prepend BOS. Default: when the tokenizer has one (Step-DPO, methods.md §1.2). */
  bos?: boolean;
  /**
   * Append EOS to the completion. Default: false for StepPair (a step is not a complete answer, §1.2),
   * true for SequencePair when the tokenizer has an EOS (a whole solution ends).
   */
  eos?: boolean;
  /** Longest allowed sequence in tokens; a longer one is an error naming the pair. Default: no limit. */
  maxLength?: number;
}

export interface PairBatch {
  pairs: readonly PreferencePair[];
  inputIds: Int32Array;
  targets: Int32Array;
  stepIndex: Int32Array;
  /** Sequence of each position (for block-diagonal attention in a packed forward). */
  seqId: Int32Array;
  /** Position inside its sequence (for RoPE). */
  positions: Int32Array;
  tokenRewards: Float32Array;
  /** [S + 1] */
  seqOffsets: Int32Array;
  /** [S] number of scored completion positions (stepIndex ≥ 0). */
  completionTokens: Int32Array;
  /** [S] number of completion steps. */
  stepCounts: Int32Array;
  /** [P] number of leading input positions identical in both sequences of the pair. */
  sharedPrefix: Int32Array;
  /** [S] StepPair chosenValue / rejectedValue (NaN where null; SequencePair: NaN). */
  values: Float64Array;
}

interface Seq {
  ids: number[];
  step: number[]; // per TOKEN (not target): completion step or −1
  rewards: number[]; // per completion step
  steps: number;
}

function sequencesOf(tokenizer: Tokenizer, pair: PreferencePair, p: number, o: BatchOptions): [Seq, Seq] {
  const bos = o.bos ?? tokenizer.bosId !== null;
  const base = { mode: o.mode ?? 'joint', bos } as const;
  const build = (prefix: readonly string[], completion: readonly string[], rewards: readonly number[], eos: boolean): Seq => {
    const a = alignSteps(tokenizer, pair.prompt, [...prefix, ...completion], { ...base, eos });
    const step = a.stepIndex.map((k) => (k < prefix.length ? -1 : k - prefix.length));
    return { ids: a.ids, step, rewards: [...rewards], steps: completion.length };
  };
  let out: [Seq, Seq];
  const schema = (pair as { schema?: unknown }).schema;
  if (schema !== 'stepwise.step-pair@1' && schema !== 'stepwise.sequence-pair@1') {
    throw new ArgumentError(`pairs[${p}].schema`, "'stepwise.step-pair@1' or 'stepwise.sequence-pair@1'", schema);
  }
  if (pair.schema === 'stepwise.step-pair@1') {
    const eos = o.eos ?? false;
    out = [
      build(pair.prefixSteps, [pair.chosen], [pair.chosenValue ?? 0], eos),
      build(pair.prefixSteps, [pair.rejected], [pair.rejectedValue ?? 0], eos),
    ];
    const masked = out.map((s) => s.step.filter((k) => k < 0).length);
    if (Math.abs(masked[0] - masked[1]) > 1) {
      throw new ArgumentError(`pairs[${p}]`, 'chosen and rejected prompt+prefix tokenisations within one token of each other (Step-DPO rule)', `${masked[0]} vs ${masked[1]} masked tokens`);
    }
  } else {
    const eos = o.eos ?? tokenizer.eosId !== null;
    for (const [side, steps, rewards] of [
      ['chosen', pair.chosenSteps, pair.chosenStepRewards],
      ['rejected', pair.rejectedSteps, pair.rejectedStepRewards],
    ] as const) {
      if (rewards.length !== 0 && rewards.length !== steps.length) {
        throw new ArgumentError(`pairs[${p}].${side}StepRewards`, `empty or one reward per step (${steps.length})`, `length ${rewards.length}`);
      }
    }
    out = [build([], pair.chosenSteps, pair.chosenStepRewards, eos), build([], pair.rejectedSteps, pair.rejectedStepRewards, eos)];
  }
  out.forEach((s, side) => {
    // Position x predicts token x + 1: a completion token at index 0 would have no position predicting it.
    if (s.step[0] !== undefined && s.step[0] >= 0) throw new ArgumentError(`pairs[${p}].prompt`, 'a non-empty prompt or a BOS token before the completion', side ? 'rejected' : 'chosen');
    if (o.maxLength !== undefined && s.ids.length > o.maxLength) throw new ArgumentError(`pairs[${p}]`, `sequences of at most ${o.maxLength} tokens`, `${s.ids.length} tokens`);
  });
  return out;
}

/** Tokenises and packs `pairs` (see the module comment for the layout). */
export function buildPairBatch(tokenizer: Tokenizer, pairs: readonly PreferencePair[], options: BatchOptions = {}): PairBatch {
  if (options.maxLength !== undefined && !(Number.isInteger(options.maxLength) && options.maxLength > 0)) {
    throw new ArgumentError('options.maxLength', 'a positive integer', options.maxLength);
  }
  const seqs = pairs.flatMap((pair, p) => sequencesOf(tokenizer, pair, p, options));
  const total = seqs.reduce((a, s) => a + s.ids.length, 0);
  const b: PairBatch = {
    pairs,
    inputIds: new Int32Array(total),
    targets: new Int32Array(total),
    stepIndex: new Int32Array(total),
    seqId: new Int32Array(total),
    positions: new Int32Array(total),
    tokenRewards: new Float32Array(total),
    seqOffsets: new Int32Array(seqs.length + 1),
    completionTokens: new Int32Array(seqs.length),
    stepCounts: new Int32Array(seqs.length),
    sharedPrefix: new Int32Array(pairs.length),
    values: new Float64Array(seqs.length).fill(NaN),
  };
  let x = 0;
  seqs.forEach((s, q) => {
    b.seqOffsets[q] = x;
    b.stepCounts[q] = s.steps;
    for (let i = 0; i < s.ids.length; i++, x++) {
      const hasTarget = i + 1 < s.ids.length;
      const k = hasTarget ? s.step[i + 1] : -1;
      b.inputIds[x] = s.ids[i];
      b.targets[x] = hasTarget ? s.ids[i + 1] : -1;
      b.stepIndex[x] = k;
      b.seqId[x] = q;
      b.positions[x] = i;
      b.tokenRewards[x] = k >= 0 ? (s.rewards[k] ?? 0) : 0;
      if (k >= 0) b.completionTokens[q]++;
    }
  });
  b.seqOffsets[seqs.length] = x;
  pairs.forEach((pair, p) => {
    const [c, r] = [seqs[2 * p].ids, seqs[2 * p + 1].ids];
    let n = 0;
    while (n < c.length && n < r.length && c[n] === r[n]) n++;
    b.sharedPrefix[p] = n;
    if (pair.schema === 'stepwise.step-pair@1') {
      b.values[2 * p] = pair.chosenValue ?? NaN;
      b.values[2 * p + 1] = pair.rejectedValue ?? NaN;
    }
  });
  return b;
}

/** Per-sequence completion sums [S] of per-position log-probs [T] (what the DPO-family losses take). */
export function completionSums(batch: PairBatch, tokenLogps: ArrayLike<number>): Float64Array {
  if (tokenLogps.length !== batch.inputIds.length) throw new ArgumentError('tokenLogps', `length ${batch.inputIds.length}`, `length ${tokenLogps.length}`);
  const out = new Float64Array(batch.completionTokens.length);
  for (let x = 0; x < tokenLogps.length; x++) if (batch.stepIndex[x] >= 0) out[batch.seqId[x]] += tokenLogps[x];
  return out;
}

/**
 * Broadcasts a per-sequence gradient (a loss's gradStep) to the positions it sums over: d loss/d ℓ_x =
 * gradStep[seq(x)] on completion positions, 0 elsewhere — for an engine that only takes gradToken.
 */
export function sequenceGradToTokens(batch: PairBatch, gradStep: ArrayLike<number>, out: FloatArray = new Float32Array(batch.inputIds.length)): FloatArray {
  if (gradStep.length !== batch.completionTokens.length) throw new ArgumentError('gradStep', `length ${batch.completionTokens.length}`, `length ${gradStep.length}`);
  for (let x = 0; x < out.length; x++) out[x] = batch.stepIndex[x] >= 0 ? gradStep[batch.seqId[x]] : 0;
  return out;
}

/** The engine's packed-forward input (structurally @stepwise/native's model `Batch`). */
export interface ForwardBatch {
  tokens: Int32Array;
  offsets: Int32Array;
  targets: Int32Array;
  /** Per position: the sum (of the forward's stepSum) that includes it; −1 = none. */
  stepIndex: Int32Array;
  numSteps: number;
  /**
   * Segment tree (the engine's Batch.parents): sequence s continues sequence parents[s] (−1 = a root). Set only
   * by pairForwardLayout's shared-prefix packing (shared-prefix.ts); absent = plain packed sequences.
   */
  parents?: Int32Array;
}

/**
 * The batch as a packed forward takes it. granularity 'sequence' (default): stepSum[q] is sequence q's
 * completion sum, so a DPO-family loss's gradStep [S] goes to `model.backward` unchanged. 'step': one sum
 * per completion step of every sequence, numbered sequence by sequence (stepBase[q] + k), for losses that
 * weight steps separately.
 */
export function toForwardBatch(batch: PairBatch, granularity: 'sequence' | 'step' = 'sequence'): ForwardBatch & { stepBase: Int32Array } {
  if (granularity !== 'sequence' && granularity !== 'step') throw new ArgumentError('granularity', "'sequence' or 'step'", granularity);
  const s = batch.stepCounts.length;
  const stepBase = new Int32Array(s + 1);
  for (let q = 0; q < s; q++) stepBase[q + 1] = stepBase[q] + (granularity === 'sequence' ? 1 : batch.stepCounts[q]);
  const stepIndex = new Int32Array(batch.stepIndex.length);
  for (let x = 0; x < stepIndex.length; x++) {
    const k = batch.stepIndex[x];
    const q = batch.seqId[x];
    stepIndex[x] = k < 0 ? -1 : granularity === 'sequence' ? q : stepBase[q] + k;
  }
  return { tokens: batch.inputIds, offsets: batch.seqOffsets, targets: batch.targets, stepIndex, numSteps: stepBase[s], stepBase };
}
