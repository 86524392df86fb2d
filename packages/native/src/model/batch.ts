/**
 * Packed batches: several sequences concatenated, with next-token targets and per-token step indices.
 *
 * Segment trees. With `parents`, a sequence may continue an earlier one: parents[s] = p ≥ 0 makes sequence s
 * attend to all of p's tokens (and p's ancestors') before its own, with RoPE positions continuing after them,
 * so [prefix][chosen][rejected] with parents [-1, 0, 0] scores prefix+chosen and prefix+rejected while
 * computing the prefix once (forward and backward). Siblings never see each other.
 */
import { ArgumentError } from '../errors.js';

export type IntArrayLike = Int32Array | readonly number[];

export interface Batch {
  /** All sequences' tokens, concatenated. */
  tokens: IntArrayLike;
  /** Sequence boundaries [0, len0, len0+len1, ..., tokens.length]. Default: one sequence. */
  offsets?: IntArrayLike;
  /**
   * targets[t] = the token whose log-prob row t scores, -1 = none. Default: the next token of the same sequence
   * (-1 on each sequence's last token).
   */
  targets?: IntArrayLike;
  /** stepIndex[t] in [-1, numSteps): the step whose sum includes token t; -1 = none. Default: all -1. */
  stepIndex?: IntArrayLike;
  /** Number of steps (length of stepSum). Default: max(stepIndex) + 1. */
  numSteps?: number;
  /**
   * One per sequence: -1 = a root (positions from 0, attends to itself only), or the index of an EARLIER
   * sequence this one continues (it attends to that sequence and its ancestors). Default: all -1. An
   * ancestors + own length above maxSeqLen is a SequenceTooLongError.
   */
  parents?: IntArrayLike;
}

export interface PackedBatch {
  tokens: Int32Array;
  offsets: Int32Array;
  targets: Int32Array;
  stepIndex: Int32Array | null;
  numSteps: number;
  /** null = every sequence a root (the plain packed path). */
  parents: Int32Array | null;
}

const toI32 = (x: IntArrayLike, name: string): Int32Array => {
  if (x instanceof Int32Array) return x;
  if (!Array.isArray(x)) throw new ArgumentError(name, 'an Int32Array or an array of integers');
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isInteger(v) || v! < -(2 ** 31) || v! >= 2 ** 31) throw new ArgumentError(`${name}[${i}]`, 'an int32', String(v));
    out[i] = v!;
  }
  return out;
};

/** Packs sequences of token ids into one batch (offsets from their lengths). */
export function packSequences(seqs: readonly IntArrayLike[]): { tokens: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(seqs.length + 1);
  seqs.forEach((s, i) => (offsets[i + 1] = offsets[i]! + s.length));
  const tokens = new Int32Array(offsets[seqs.length]!);
  seqs.forEach((s, i) => tokens.set(toI32(s, `seqs[${i}]`), offsets[i]!));
  return { tokens, offsets };
}

/** Normalises a Batch: typed arrays, default offsets / targets / steps, lengths checked. */
export function packBatch(b: Batch): PackedBatch {
  const tokens = toI32(b.tokens, 'batch.tokens');
  const offsets = b.offsets === undefined ? Int32Array.of(0, tokens.length) : toI32(b.offsets, 'batch.offsets');
  if (offsets.length < 2 || offsets[0] !== 0 || offsets[offsets.length - 1] !== tokens.length)
    throw new ArgumentError('batch.offsets', `[0, ..., ${tokens.length}] with at least one sequence`);
  for (let i = 1; i < offsets.length; i++)
    if (offsets[i]! <= offsets[i - 1]!) throw new ArgumentError('batch.offsets', 'strictly increasing values (no empty sequence)');
  let targets: Int32Array;
  if (b.targets === undefined) {
    targets = new Int32Array(tokens.length).fill(-1);
    for (let s = 0; s + 1 < offsets.length; s++)
      for (let t = offsets[s]!; t < offsets[s + 1]! - 1; t++) targets[t] = tokens[t + 1]!;
  } else {
    targets = toI32(b.targets, 'batch.targets');
    if (targets.length !== tokens.length) throw new ArgumentError('batch.targets', `length ${tokens.length}`, String(targets.length));
  }
  const stepIndex = b.stepIndex === undefined ? null : toI32(b.stepIndex, 'batch.stepIndex');
  if (stepIndex && stepIndex.length !== tokens.length)
    throw new ArgumentError('batch.stepIndex', `length ${tokens.length}`, String(stepIndex.length));
  let numSteps = b.numSteps;
  if (numSteps === undefined) {
    numSteps = 0;
    if (stepIndex) for (const s of stepIndex) numSteps = Math.max(numSteps, s + 1);
  }
  if (!Number.isInteger(numSteps) || numSteps < 0) throw new ArgumentError('batch.numSteps', 'a non-negative integer', String(numSteps));
  return { tokens, offsets, targets, stepIndex, numSteps, parents: checkParents(b.parents, offsets.length - 1) };
}

/** Validates segment parents (each -1 or an earlier sequence); null when absent or all roots. */
function checkParents(parents: IntArrayLike | undefined, numSeqs: number): Int32Array | null {
  if (parents === undefined) return null;
  const p = toI32(parents, 'batch.parents');
  if (p.length !== numSeqs) throw new ArgumentError('batch.parents', `one entry per sequence (${numSeqs})`, `length ${p.length}`);
  for (let s = 0; s < numSeqs; s++)
    if (p[s]! < -1 || p[s]! >= s) throw new ArgumentError(`batch.parents[${s}]`, `-1 or an earlier sequence in [0, ${s})`, String(p[s]));
  return p.some((x) => x >= 0) ? p : null;
}
