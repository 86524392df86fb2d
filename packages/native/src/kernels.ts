/**
 * Step log-probabilities (architecture.md §3, kernel (a)): per-token log p(target) and per-step sums, from
 * logits [n, v] or from hidden states [n, d] and the LM head [v, d]. Every function validates its arguments
 * (ArgumentError naming the argument) and has an `…Async` twin that runs off the event loop.
 *
 * Inputs are Float32Array (fp32), Bf16Array (bf16) or, on CUDA, DeviceTensor; with DeviceTensor inputs every
 * output is a DeviceTensor too. Async calls read their inputs while pending: do not mutate them until the
 * promise settles.
 */
import type { Bf16Array, FloatArray } from './bf16.js';
import type { DeviceTensor } from './device.js';
import { ArgumentError, describe } from './errors.js';
import { Call, checkKeys, declareStepLogprobOutputs, startAsync } from './marshal.js';
import { checkTargets, expectBoolean, expectInteger } from './validate.js';

/** Host results are typed arrays; device results DeviceTensors. */
export type Out<L, H> = L extends DeviceTensor ? DeviceTensor : H;
type FloatIn = FloatArray | DeviceTensor;
type IndexIn = Int32Array | DeviceTensor;

export interface StepLogprobInput<L extends FloatIn = FloatIn> {
  /** [n, v] row-major. NaN and +Infinity are rejected; −Infinity (masked vocabulary) is allowed. */
  logits: L;
  /** v ≥ 1. n is targets.length and logits.length must equal n·v. */
  vocabSize: number;
  /** [n]: the token whose log-prob is wanted, in [0, v); negative = ignored (outputs 0, gradient 0). */
  targets: IndexIn;
  /** [n]: the step of each token in [−1, numSteps); −1 = no step. Required when numSteps > 0; ignored tokens must be −1. */
  stepIndex?: IndexIn;
  /** Number of steps (length of stepSum). Default 0. */
  numSteps?: number;
}

export interface StepLogprobOptions {
  /** true: libm exp/log with double accumulation (≤1e-6 from float64); false (default): the fast path (≤1e-4). */
  exact?: boolean;
  /** Also return the entropy −Σ p log p of each row (default false). */
  entropy?: boolean;
  /** Also return argmaxHit: 1 where the target is the row's first maximum (default false). */
  argmaxHit?: boolean;
  /** Scan logits for NaN/+Inf before running (default true; host inputs only). Off saves one pass. */
  checkValues?: boolean;
}

export interface StepLogprobResult<F = Float32Array, U = Uint8Array> {
  /** [n] log softmax(z_t)[target_t]; 0 for ignored tokens. */
  tokenLogp: F;
  /** [numSteps] Σ of tokenLogp over each step's tokens; 0 for an empty step. */
  stepSum: F;
  /** [n] log-sum-exp of each row, saved for the backward; 0 for ignored tokens. */
  lse: F;
  entropy?: F;
  argmaxHit?: U;
}

function numStepsOf(input: { numSteps?: unknown }): number {
  return input.numSteps === undefined ? 0 : expectInteger('numSteps', input.numSteps, 0);
}

/** n comes from the targets; anything without a numeric length is reported as the wrong type. */
function lengthOf(name: string, v: unknown): number {
  const n = (v as { length?: unknown } | null | undefined)?.length;
  if (typeof n !== 'number' || !(v instanceof Int32Array || (typeof v === 'object' && v !== null && 'dtype' in v)))
    throw new ArgumentError(name, 'an Int32Array (or an i32 DeviceTensor)', describe(v));
  return n;
}

const INPUT_KEYS = ['vocabSize', 'targets', 'stepIndex', 'numSteps'] as const;
const FWD_OPTIONS = ['exact', 'entropy', 'argmaxHit', 'checkValues'] as const;

/**
 * The [n, v] rows (`logits`, or `grad` for scaleStepLogprobGrad), the vocabulary size, targets and steps that
 * every step log-prob call takes, validated; the rows decide whether the call runs on the device.
 */
function prepareLogits(
  fn: string,
  input: Omit<StepLogprobInput, 'logits'> & { logits?: unknown; grad?: unknown },
  extraKeys: readonly string[],
  rowsKey: 'logits' | 'grad' = 'logits',
): { call: Call; n: number; v: number; s: number } {
  checkKeys('input', input, [rowsKey, ...INPUT_KEYS, ...extraKeys]);
  const call = new Call(fn, input[rowsKey]);
  const v = expectInteger('vocabSize', input.vocabSize, 1);
  const n = lengthOf('targets', input.targets);
  const s = numStepsOf(input);
  if (s > 0 && input.stepIndex === undefined) throw new ArgumentError('stepIndex', 'an Int32Array of length n when numSteps > 0', 'undefined');
  call.float(rowsKey, input[rowsKey], n * v);
  const targets = call.i32('targets', input.targets, n);
  const steps = call.i32('stepIndex', input.stepIndex, n, true);
  if (targets) checkTargets(targets, steps, v, s);
  Object.assign(call.raw, { n, v, numSteps: s });
  return { call, n, v, s };
}

/** The optional upstream gradients dL/d tokenLogp [n] and dL/d stepSum [numSteps], finite when given. */
function upstreamGradients(call: Call, input: { gradToken?: unknown; gradStep?: unknown }, n: number, s: number): void {
  call.f32('gradToken', input.gradToken, n, { optional: true, finite: true });
  call.f32('gradStep', input.gradStep, s, { optional: true, finite: true });
}

function forwardCall(fn: string, input: StepLogprobInput, options: StepLogprobOptions | undefined): Call {
  const o = checkKeys('options', options, FWD_OPTIONS) as StepLogprobOptions;
  const { call, n, s } = prepareLogits(fn, input, []);
  if (o.exact !== undefined) call.set('exact', expectBoolean('options.exact', o.exact));
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  declareStepLogprobOutputs(call, o, n, s);
  return call;
}

/** Forward: token log-probs, step sums and the saved log-sum-exp (plus entropy / argmax hits on request). */
export function stepLogprob<L extends FloatIn>(
  input: StepLogprobInput<L>,
  options?: StepLogprobOptions,
): StepLogprobResult<Out<L, Float32Array>, Out<L, Uint8Array>> {
  return forwardCall('stepLogprobForward', input, options).run();
}

/** {@link stepLogprob} on the libuv pool. Do not mutate the inputs until the promise settles. */
export function stepLogprobAsync<L extends FloatIn>(
  input: StepLogprobInput<L>,
  options?: StepLogprobOptions,
): Promise<StepLogprobResult<Out<L, Float32Array>, Out<L, Uint8Array>>> {
  return startAsync(() => forwardCall('stepLogprobForward', input, options));
}

export interface StepLogprobBackwardInput<L extends FloatIn = FloatIn> extends StepLogprobInput<L> {
  /** [n] from the forward. */
  lse: Float32Array | DeviceTensor;
  /** [n] upstream dL/d tokenLogp (omitted = 0). */
  gradToken?: Float32Array | DeviceTensor;
  /** [numSteps] upstream dL/d stepSum (omitted = 0). Token t receives gradToken[t] + gradStep[stepIndex[t]]. */
  gradStep?: Float32Array | DeviceTensor;
}

export interface StepLogprobBackwardOptions {
  /** Same meaning as in the forward (default false). */
  exact?: boolean;
  /** Write dlogits over the logits (no n·v allocation); the logits are destroyed. Default false. */
  inPlace?: boolean;
  /** Scan the inputs for NaN/Inf first (default true; host only). */
  checkValues?: boolean;
}

/** dlogits has the logits' dtype (fp32 → Float32Array, bf16 → Bf16Array). */
export type DlogitsOf<L> = L extends DeviceTensor ? DeviceTensor : L extends Bf16Array ? Bf16Array : Float32Array;

function backwardCall(fn: string, input: StepLogprobBackwardInput, options: StepLogprobBackwardOptions | undefined): Call {
  const o = checkKeys('options', options, ['exact', 'inPlace', 'checkValues']) as StepLogprobBackwardOptions;
  const { call, n, v, s } = prepareLogits(fn, input, ['lse', 'gradToken', 'gradStep']);
  call.f32('lse', input.lse, n, { finite: true });
  upstreamGradients(call, input, n, s);
  if (o.exact !== undefined) call.set('exact', expectBoolean('options.exact', o.exact));
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  const inPlace = o.inPlace === undefined ? false : expectBoolean('options.inPlace', o.inPlace);
  call.set('inPlace', inPlace);
  if (!inPlace) call.out('dlogits', call.raw.dtype as 'f32' | 'bf16', n * v);
  return call;
}

/** Backward: dlogits = g_t · (onehot(target_t) − softmax(z_t)) with g_t = gradToken[t] + gradStep[step_t]. */
export function stepLogprobBackward<L extends FloatIn>(
  input: StepLogprobBackwardInput<L>,
  options?: StepLogprobBackwardOptions,
): { dlogits: DlogitsOf<L> } {
  return backwardCall('stepLogprobBackward', input, options).run();
}

export function stepLogprobBackwardAsync<L extends FloatIn>(
  input: StepLogprobBackwardInput<L>,
  options?: StepLogprobBackwardOptions,
): Promise<{ dlogits: DlogitsOf<L> }> {
  return startAsync(() => backwardCall('stepLogprobBackward', input, options));
}

// ---- the fused forward + gradient (kernels.h (a+)) -----------------------------------------------------------

export interface StepLogprobWithGradInput<L extends FloatIn = FloatIn> extends StepLogprobInput<L> {
  /**
   * Upstream dL/d tokenLogp, when it is known before the forward (the NLL of SFT, any loss linear in the
   * log-probs). With gradToken and/or gradStep given, `grad` is the finished dlogits; without, it is unscaled.
   */
  gradToken?: Float32Array | DeviceTensor;
  /** Upstream dL/d stepSum known before the forward (see gradToken). */
  gradStep?: Float32Array | DeviceTensor;
}

export interface StepLogprobWithGradOptions extends StepLogprobOptions {
  /** Write the gradient over the logits (no n·v allocation; the logits are destroyed). Default false. */
  inPlace?: boolean;
}

export type StepLogprobWithGradResult<L> = StepLogprobResult<Out<L, Float32Array>, Out<L, Uint8Array>> & {
  /**
   * [n, v], the logits' dtype. Without upstream gradients: softmax(z_t) − onehot(target_t) (= −∂logp_t/∂z_t;
   * multiply row t by −g_t where it is consumed, or call {@link scaleStepLogprobGrad}). With them: the finished
   * g_t · (onehot − softmax). Ignored tokens' rows are 0.
   */
  grad: DlogitsOf<L>;
};

function forwardGradCall(fn: string, input: StepLogprobWithGradInput, options: StepLogprobWithGradOptions | undefined): Call {
  const o = checkKeys('options', options, [...FWD_OPTIONS, 'inPlace']) as StepLogprobWithGradOptions;
  const { call, n, v, s } = prepareLogits(fn, input, ['gradToken', 'gradStep']);
  upstreamGradients(call, input, n, s);
  if (o.exact !== undefined) call.set('exact', expectBoolean('options.exact', o.exact));
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  const inPlace = o.inPlace === undefined ? false : expectBoolean('options.inPlace', o.inPlace);
  call.set('inPlace', inPlace);
  declareStepLogprobOutputs(call, o, n, s);
  if (!inPlace) call.out('grad', call.raw.dtype as 'f32' | 'bf16', n * v);
  return call;
}

/**
 * Forward and gradient in one pass over the logits: everything {@link stepLogprob} returns, plus `grad`.
 * One read of each row and one exp per element, against two reads and two exps for {@link stepLogprob} then
 * {@link stepLogprobBackward} (docs/kernels-cpu.md). For DPO-style losses, whose upstream gradient depends on
 * the forward's sums, take the unscaled gradient and fold −g_t into its consumer (an LM-head GEMM operand);
 * {@link scaleStepLogprobGrad} materialises dlogits when there is no such consumer.
 * With `inPlace` and checkValues (default), the logits are scanned for NaN/+Infinity before they are overwritten.
 */
export function stepLogprobWithGrad<L extends FloatIn>(
  input: StepLogprobWithGradInput<L>,
  options?: StepLogprobWithGradOptions,
): StepLogprobWithGradResult<L> {
  return forwardGradCall('stepLogprobForwardGrad', input, options).run();
}

/** {@link stepLogprobWithGrad} on the libuv pool. Do not touch the inputs until the promise settles. */
export function stepLogprobWithGradAsync<L extends FloatIn>(
  input: StepLogprobWithGradInput<L>,
  options?: StepLogprobWithGradOptions,
): Promise<StepLogprobWithGradResult<L>> {
  return startAsync(() => forwardGradCall('stepLogprobForwardGrad', input, options));
}

export interface StepLogprobGradScaleInput<G extends FloatIn = FloatIn> {
  /** [n, v]: the unscaled `grad` of {@link stepLogprobWithGrad}; scaled in place. */
  grad: G;
  vocabSize: number;
  targets: IndexIn;
  stepIndex?: IndexIn;
  numSteps?: number;
  /** [n] upstream dL/d tokenLogp (omitted = 0). */
  gradToken?: Float32Array | DeviceTensor;
  /** [numSteps] upstream dL/d stepSum (omitted = 0). */
  gradStep?: Float32Array | DeviceTensor;
}

function gradScaleCall(fn: string, input: StepLogprobGradScaleInput, options: { checkValues?: boolean } | undefined): Call {
  const o = checkKeys('options', options, ['checkValues']) as { checkValues?: boolean };
  const { call, n, s } = prepareLogits(fn, input, ['gradToken', 'gradStep'], 'grad');
  upstreamGradients(call, input, n, s);
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  return call;
}

/**
 * In place: grad[t, :] *= −g_t with g_t = gradToken[t] + gradStep[stepIndex[t]], turning the unscaled gradient of
 * {@link stepLogprobWithGrad} into exactly what {@link stepLogprobBackward} returns. Rows with g_t = 0 become 0.
 * Returns `{ dlogits }`, the same array as `grad`.
 */
export function scaleStepLogprobGrad<G extends FloatIn>(
  input: StepLogprobGradScaleInput<G>,
  options?: { checkValues?: boolean },
): { dlogits: DlogitsOf<G> } {
  return gradScaleCall('stepLogprobGradScale', input, options).run();
}

export function scaleStepLogprobGradAsync<G extends FloatIn>(
  input: StepLogprobGradScaleInput<G>,
  options?: { checkValues?: boolean },
): Promise<{ dlogits: DlogitsOf<G> }> {
  return startAsync(() => gradScaleCall('stepLogprobGradScale', input, options));
}
