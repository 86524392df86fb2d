/**
 * Step pairs with their shared prefix computed once (issue #3, "Batching"). Both sequences of a pair start with
 * the same tokens (prompt + earlier steps: most of a step pair), and attention is causal, so every hidden state
 * there is the same on both sides. The engine's segment trees (`parents` of its packed batch) let a sequence
 * continue an earlier one; a pair then packs as
 *
 *   [shared rows] [chosen rows after them] [rejected rows after them]      parents: −1, shared, shared
 *
 * and the forward and backward compute the shared rows once (their K/V and activations receive the gradients of
 * both branches). Which rows are shared: the longest run of leading positions whose input ids, targets and
 * masks agree on both sides AND that are masked (stepIndex −1) on both. The last prefix position predicts the
 * first completion token, which differs, so a pair with a p-token common prefix shares p − 1 rows; scored
 * positions are never shared, because a row adds into one step sum and the two sides' sums are different.
 * A pair that shares nothing (a 1-token prefix) is packed as two plain sequences.
 *
 * Everything the losses see stays in the PairBatch's own layout ([T] positions, [S] sums): `toPairs` copies a
 * forward's per-row log-probs back to positions (a shared row to both sides), `toRows` sums a loss's
 * per-position gradient onto the rows (the chain rule of that copy), and stepSum is already [S].
 */
import { toForwardBatch, type ForwardBatch, type PairBatch } from './batch.js';
import { ArgumentError } from './errors.js';
import type { FloatArray } from './losses/kernels.js';

export interface PairForwardOptions {
  /** 'sequence' (default): one step sum per sequence; 'step': one per completion step (see toForwardBatch). */
  granularity?: 'sequence' | 'step';
  /**
   * Compute each pair's shared prefix once (a segment tree; needs a model that honours ForwardBatch.parents, as
   * the engine does). Default true. false = the two full sequences of every pair, packed plainly.
   */
  sharePrefix?: boolean;
}

export interface PairForwardLayout {
  /** The packed forward input; `parents` is set when some pair shares rows. */
  forward: ForwardBatch & { stepBase: Int32Array };
  /** [T] the forward row that computes PairBatch position x. */
  rowOf: Int32Array;
  /** [P] rows each pair computes once instead of twice. */
  sharedRows: Int32Array;
  /** Per-position values [T] from per-row values (a shared row's value goes to both sides). */
  toPairs(rowValues: ArrayLike<number>): Float64Array;
  /** Per-row gradient from a per-position one [T] (a shared row gets the sum of both sides). */
  toRows(positionGrad: ArrayLike<number>): Float64Array;
}

/** Rows pair p can share: leading positions identical on both sides (ids, targets) and masked on both. */
export function sharedRowsOf(batch: PairBatch, p: number): number {
  const [c, r] = [batch.seqOffsets[2 * p], batch.seqOffsets[2 * p + 1]];
  // Each side keeps at least its own last row, so no child segment is empty (even for two identical texts).
  const limit = Math.min(batch.sharedPrefix[p], batch.seqOffsets[2 * p + 1] - c - 1, batch.seqOffsets[2 * p + 2] - r - 1);
  let n = 0;
  while (n < limit && batch.inputIds[c + n] === batch.inputIds[r + n] && batch.targets[c + n] === batch.targets[r + n] && batch.stepIndex[c + n] < 0 && batch.stepIndex[r + n] < 0) n++;
  return n;
}

/** The forward layout of `batch` (see the module comment). */
export function pairForwardLayout(batch: PairBatch, options: PairForwardOptions = {}): PairForwardLayout {
  const { granularity = 'sequence', sharePrefix = true } = options;
  if (typeof sharePrefix !== 'boolean') throw new ArgumentError('options.sharePrefix', 'a boolean', sharePrefix);
  const plain = toForwardBatch(batch, granularity);
  const T = batch.inputIds.length;
  const P = batch.sharedPrefix.length;
  const sharedRows = new Int32Array(P);
  if (sharePrefix) for (let p = 0; p < P; p++) sharedRows[p] = sharedRowsOf(batch, p);
  const saved = sharedRows.reduce((a, b) => a + b, 0);
  const rowOf = new Int32Array(T);
  if (saved === 0) {
    rowOf.forEach((_, x) => (rowOf[x] = x));
  } else {
    const R = T - saved;
    const tokens = new Int32Array(R);
    const targets = new Int32Array(R);
    const stepIndex = new Int32Array(R);
    const offsets: number[] = [0];
    const parents: number[] = [];
    let row = 0;
    const put = (x: number) => {
      tokens[row] = plain.tokens[x];
      targets[row] = plain.targets[x];
      stepIndex[row] = plain.stepIndex[x];
      rowOf[x] = row++;
    };
    for (let p = 0; p < P; p++) {
      const n = sharedRows[p];
      const sides = [2 * p, 2 * p + 1].map((q) => batch.seqOffsets[q]);
      let parent = -1;
      if (n > 0) {
        for (let i = 0; i < n; i++) put(sides[0] + i);
        for (let i = 0; i < n; i++) rowOf[sides[1] + i] = rowOf[sides[0] + i];
        offsets.push(row);
        parent = parents.length;
        parents.push(-1);
      }
      for (const q of [2 * p, 2 * p + 1]) {
        for (let x = batch.seqOffsets[q] + n; x < batch.seqOffsets[q + 1]; x++) put(x);
        offsets.push(row);
        parents.push(parent);
      }
    }
    plain.tokens = tokens;
    plain.targets = targets;
    plain.stepIndex = stepIndex;
    plain.offsets = Int32Array.from(offsets);
    plain.parents = Int32Array.from(parents);
  }
  const rows = plain.tokens.length;
  return {
    forward: plain,
    rowOf,
    sharedRows,
    toPairs(rowValues) {
      if (rowValues.length !== rows) throw new ArgumentError('rowValues', `length ${rows} (the forward's rows)`, `length ${rowValues.length}`);
      return Float64Array.from(rowOf, (r) => rowValues[r]);
    },
    toRows(positionGrad) {
      if (positionGrad.length !== T) throw new ArgumentError('positionGrad', `length ${T} (the batch's positions)`, `length ${positionGrad.length}`);
      const out = new Float64Array(rows);
      for (let x = 0; x < T; x++) out[rowOf[x]] += positionGrad[x];
      return out;
    },
  };
}

/** What `forwardPairs` returns: the forward in the PairBatch's layout, and its backward. */
export interface PairForward<O> {
  out: O;
  layout: PairForwardLayout;
  /** [T] per-position log-probs (the PairBatch's layout, whatever the packing). */
  tokenLogps: Float64Array;
  /** The forward's step sums ([S] at 'sequence' granularity). */
  sums: ArrayLike<number>;
  /** model.backward with gradToken given per PairBatch position ([T]) and gradStep per sum. */
  backward(grads: { gradToken?: ArrayLike<number>; gradStep?: FloatArray }): Promise<void>;
}

/** The structural model shape forwardPairs needs (the engine's Model fits). */
export interface PairForwardModel<O extends { tokenLogp: ArrayLike<number>; stepSum: ArrayLike<number> }> {
  forward(batch: ForwardBatch): Promise<O>;
  backward(out: O, grads: { gradToken?: FloatArray; gradStep?: FloatArray }): Promise<void>;
}

/** Forwards `batch` through `model` (shared prefixes once by default) and maps the outputs back to positions. */
export async function forwardPairs<O extends { tokenLogp: ArrayLike<number>; stepSum: ArrayLike<number> }>(model: PairForwardModel<O>, batch: PairBatch, options: PairForwardOptions = {}): Promise<PairForward<O>> {
  const layout = pairForwardLayout(batch, options);
  const out = await model.forward(layout.forward);
  return {
    out,
    layout,
    tokenLogps: layout.toPairs(out.tokenLogp),
    sums: out.stepSum,
    backward: (g) =>
      model.backward(out, {
        ...(g.gradToken ? { gradToken: layout.toRows(g.gradToken) } : {}),
        ...(g.gradStep ? { gradStep: g.gradStep } : {}),
      }),
  };
}
