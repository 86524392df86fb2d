/**
 * The two kernels every preference loss is built from, behind one small interface so that a loss can run
 * on the native core (float32, the default: this is what training uses) or on the float64 JavaScript
 * references of @stepwise/native (what the finite-difference tests use: float32 rounding would swamp a
 * central difference). The losses never compute a DPO term or a reward softmax themselves.
 */
import { dpoMargin, reference, rewardWeights } from '@stepwise/native';
import { ArgumentError } from '../errors.js';

/** Gradient/weight arrays: Float32Array from the native kernels, Float64Array from the references. */
export type FloatArray = Float32Array | Float64Array;

export interface DpoKernelInput {
  policyChosen: ArrayLike<number>;
  policyRejected: ArrayLike<number>;
  refChosen: ArrayLike<number>;
  refRejected: ArrayLike<number>;
  /** Per-pair margin subtracted inside the sigmoid; omitted = 0. */
  margin?: ArrayLike<number>;
}

export interface DpoKernelOptions {
  beta: number;
  labelSmoothing: number;
  lossType: 'sigmoid' | 'ipo';
  /** Multiplies the returned gradients (1/P gives the gradient of the mean). */
  gradScale: number;
}

export interface DpoKernelOutput {
  loss: FloatArray;
  /** gradScale · dloss_p/dpolicyChosen_p (gradRejected is its negative). */
  gradChosen: FloatArray;
  meanLoss: number;
  rewardAccuracy: number;
  chosenReward: number;
  rejectedReward: number;
  rewardMargin: number;
}

export interface LossKernels {
  readonly name: 'native' | 'reference';
  /** A zeroed output array of the kernels' float type. */
  array(n: number): FloatArray;
  dpo(input: DpoKernelInput, options: DpoKernelOptions): DpoKernelOutput;
  /** softmax(scale[s] · r) over each segment [offsets[s], offsets[s+1]). */
  rewardWeights(rewards: ArrayLike<number>, offsets: ArrayLike<number>, scale: ArrayLike<number>): FloatArray;
}

function f32(name: string, a: ArrayLike<number>): Float32Array {
  if (a instanceof Float32Array) return a;
  const out = Float32Array.from(a as ArrayLike<number>);
  // Values beyond float32's range would become ±Infinity silently; say which argument it was.
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new ArgumentError(name, 'finite values representable in float32', `${a[i]} at index ${i}`);
  }
  return out;
}

/** Float32 kernels of @stepwise/native (CPU or CUDA, whichever the addon was built with). */
export const nativeKernels: LossKernels = {
  name: 'native',
  array: (n) => new Float32Array(n),
  dpo(input, o) {
    const r = dpoMargin(
      {
        policyChosen: f32('policyChosen', input.policyChosen),
        policyRejected: f32('policyRejected', input.policyRejected),
        refChosen: f32('refChosen', input.refChosen),
        refRejected: f32('refRejected', input.refRejected),
        ...(input.margin ? { margin: f32('margin', input.margin) } : {}),
      },
      { beta: o.beta, labelSmoothing: o.labelSmoothing, lossType: o.lossType, gradScale: o.gradScale, grads: true },
    );
    return {
      loss: r.loss,
      gradChosen: r.gradChosen!,
      meanLoss: r.meanLoss,
      rewardAccuracy: r.rewardAccuracy,
      chosenReward: r.chosenReward,
      rejectedReward: r.rejectedReward,
      rewardMargin: r.rewardMargin,
    };
  },
  rewardWeights(rewards, offsets, scale) {
    return rewardWeights({ rewards: f32('rewards', rewards), offsets: Array.from(offsets), scale: f32('scale', scale) }).weights;
  },
};

/** Float64 references of @stepwise/native: same definitions, for gradient checks. */
export const referenceKernels: LossKernels = {
  name: 'reference',
  array: (n) => new Float64Array(n),
  dpo(input, o) {
    const r = reference.dpoMarginRef({ ...input, ...o });
    const { loss, gradChosen, meanLoss, rewardAccuracy, chosenReward, rejectedReward, rewardMargin } = r;
    return { loss, gradChosen, meanLoss, rewardAccuracy, chosenReward, rejectedReward, rewardMargin };
  },
  rewardWeights: (rewards, offsets, scale) => reference.rewardWeightsRef({ rewards, offsets, scale }),
};
