/**
 * Shared shapes of the losses. Layout convention (the batch builder produces it): pair p owns sequences
 * 2p (chosen) and 2p + 1 (rejected); every per-sequence array has 2P entries in that order, so a loss's
 * gradStep lines up with the packed batch without any reindexing.
 */
import { ArgumentError } from '../errors.js';
import { nativeKernels, type FloatArray, type LossKernels } from './kernels.js';

/** What every loss returns: the scalar to log and the gradients ready for `model.backward`. */
export interface LossResult {
  /** The reduced (mean) loss. 0 for an empty batch. */
  loss: number;
  /** d loss / d policy per-token log-prob, over the packed batch's positions (0 on masked positions). */
  gradToken?: FloatArray;
  /** d loss / d policy completion log-prob sum, per sequence [2P] (chosen at 2p, rejected at 2p + 1). */
  gradStep?: FloatArray;
  /** d loss / d value-head output, per sequence [2P] (SVPO). */
  gradValue?: FloatArray;
  /** Scalars for logging (reward accuracy, margins, …); names are stable. */
  metrics: Record<string, number>;
}

/** Policy and frozen-reference completion log-prob sums, [2P] each in the pair layout above. */
export interface PairedSums {
  policy: ArrayLike<number>;
  reference: ArrayLike<number>;
}

export interface KernelChoice {
  /** Which implementation of dpoMargin / rewardWeights to call (default: the native float32 kernels). */
  kernels?: LossKernels;
}

export function kernelsOf(o: KernelChoice | undefined): LossKernels {
  return o?.kernels ?? nativeKernels;
}

export function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ArgumentError(name, expected, v);
  return v;
}

export function checkArray(name: string, a: ArrayLike<number> | undefined, length?: number): ArrayLike<number> {
  if (a === undefined || a === null || typeof a.length !== 'number') throw new ArgumentError(name, 'an array of numbers', a);
  if (length !== undefined && a.length !== length) throw new ArgumentError(name, `length ${length}`, `length ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number' || !Number.isFinite(a[i])) throw new ArgumentError(`${name}[${i}]`, 'a finite number', a[i]);
  }
  return a;
}

/** Splits the interleaved [2P] layout into the four [P] arrays the DPO kernel takes. */
export function splitPairs(s: PairedSums, names = { policy: 'policy', reference: 'reference' }) {
  const n = checkArray(names.policy, s.policy).length;
  if (n % 2 !== 0) throw new ArgumentError(names.policy, 'an even length (chosen, rejected per pair)', `length ${n}`);
  checkArray(names.reference, s.reference, n);
  const p = n / 2;
  const out = { policyChosen: new Float64Array(p), policyRejected: new Float64Array(p), refChosen: new Float64Array(p), refRejected: new Float64Array(p) };
  for (let i = 0; i < p; i++) {
    out.policyChosen[i] = s.policy[2 * i];
    out.policyRejected[i] = s.policy[2 * i + 1];
    out.refChosen[i] = s.reference[2 * i];
    out.refRejected[i] = s.reference[2 * i + 1];
  }
  return out;
}

/** Interleaves per-pair chosen gradients back into [2P]; the rejected gradient is −chosen (h = c − r). */
export function interleaveGrad(kernels: LossKernels, gradChosen: ArrayLike<number>): FloatArray {
  const g = kernels.array(2 * gradChosen.length);
  for (let i = 0; i < gradChosen.length; i++) {
    g[2 * i] = gradChosen[i];
    g[2 * i + 1] = -gradChosen[i];
  }
  return g;
}
