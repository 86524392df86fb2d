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

const INPUT_KEYS = ['logits', 'vocabSize', 'targets', 'stepIndex', 'numSteps'] as const;
const FWD_OPTIONS = ['exact', 'entropy', 'argmaxHit', 'checkValues'] as const;

function prepareLogits(fn: string, input: StepLogprobInput, extraKeys: readonly string[]): { call: Call; n: number; v: number; s: number } {
  checkKeys('input', input, [...INPUT_KEYS, ...extraKeys]);
  const call = new Call(fn, input.logits);
  const v = expectInteger('vocabSize', input.vocabSize, 1);
  const n = lengthOf('targets', input.targets);
  const s = numStepsOf(input);
  if (s > 0 && input.stepIndex === undefined) throw new ArgumentError('stepIndex', 'an Int32Array of length n when numSteps > 0', 'undefined');
  call.float('logits', input.logits, n * v);
  const targets = call.i32('targets', input.targets, n);
  const steps = call.i32('stepIndex', input.stepIndex, n, true);
  if (targets) checkTargets(targets, steps, v, s);
  Object.assign(call.raw, { n, v, numSteps: s });
  return { call, n, v, s };
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
  call.f32('gradToken', input.gradToken, n, { optional: true, finite: true });
  call.f32('gradStep', input.gradStep, s, { optional: true, finite: true });
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
