/**
 * Step log-probabilities from hidden states and the LM head, logits never stored whole (kernel (a')):
 * z = hidden · weightᵀ, hidden [n, d], weight [v, d] (row j = token j). Outputs as in {@link stepLogprob}.
 * hidden and weight share a dtype (both fp32 or both bf16); gradients are fp32.
 */
import type { FloatArray } from './bf16.js';
import type { DeviceTensor } from './device.js';
import { ArgumentError } from './errors.js';
import type { Out, StepLogprobResult } from './kernels.js';
import { Call, checkKeys, declareStepLogprobOutputs, startAsync } from './marshal.js';
import { checkTargets, expectBoolean, expectInteger } from './validate.js';

type FloatIn = FloatArray | DeviceTensor;

export interface HiddenInput<L extends FloatIn = FloatIn> {
  /** [n, d]; finite. */
  hidden: L;
  /** [v, d], the LM head; finite; same dtype as hidden. */
  weight: L;
  hiddenSize: number;
  vocabSize: number;
  /** [n] in [0, v) or negative (ignored). n = targets.length. */
  targets: Int32Array | DeviceTensor;
  /** [n] in [−1, numSteps); required when numSteps > 0. */
  stepIndex?: Int32Array | DeviceTensor;
  numSteps?: number;
}

export interface HiddenOptions {
  /** Rows of logits computed at once; 0 (default) = automatic, bounded scratch memory. */
  chunkRows?: number;
  /** Scan hidden/weight for NaN/Inf first (default true; host only). */
  checkValues?: boolean;
}

export interface HiddenForwardOptions extends HiddenOptions {
  entropy?: boolean;
  argmaxHit?: boolean;
}

const KEYS = ['hidden', 'weight', 'hiddenSize', 'vocabSize', 'targets', 'stepIndex', 'numSteps'];

function prepare(fn: string, input: HiddenInput, extra: string[], o: HiddenOptions): { call: Call; n: number; d: number; v: number; s: number } {
  checkKeys('input', input, [...KEYS, ...extra]);
  const call = new Call(fn, input.hidden);
  const d = expectInteger('hiddenSize', input.hiddenSize, 1);
  const v = expectInteger('vocabSize', input.vocabSize, 1);
  const n = (input.targets as { length?: number } | undefined)?.length ?? -1;
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError('targets', 'an Int32Array', typeof input.targets);
  const s = input.numSteps === undefined ? 0 : expectInteger('numSteps', input.numSteps, 0);
  if (s > 0 && input.stepIndex === undefined) throw new ArgumentError('stepIndex', 'an Int32Array of length n when numSteps > 0', 'undefined');
  call.float('hidden', input.hidden, n * d);
  const dtype = call.raw.dtype;
  call.float('weight', input.weight, v * d);
  if (call.raw.dtype !== dtype) throw new ArgumentError('weight', `the same dtype as hidden (${String(dtype)})`, String(call.raw.dtype));
  const targets = call.i32('targets', input.targets, n);
  const steps = call.i32('stepIndex', input.stepIndex, n, true);
  if (targets) checkTargets(targets, steps, v, s);
  Object.assign(call.raw, { n, d, v, numSteps: s });
  if (o.chunkRows !== undefined) call.set('chunkRows', expectInteger('options.chunkRows', o.chunkRows, 0));
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  return { call, n, d, v, s };
}

function forwardCall(input: HiddenInput, options: HiddenForwardOptions | undefined): Call {
  const o = checkKeys('options', options, ['chunkRows', 'checkValues', 'entropy', 'argmaxHit']) as HiddenForwardOptions;
  const { call, n, s } = prepare('stepLogprobHiddenForward', input, [], o);
  declareStepLogprobOutputs(call, o, n, s);
  return call;
}

export function stepLogprobFromHidden<L extends FloatIn>(
  input: HiddenInput<L>,
  options?: HiddenForwardOptions,
): StepLogprobResult<Out<L, Float32Array>, Out<L, Uint8Array>> {
  return forwardCall(input, options).run();
}

export function stepLogprobFromHiddenAsync<L extends FloatIn>(
  input: HiddenInput<L>,
  options?: HiddenForwardOptions,
): Promise<StepLogprobResult<Out<L, Float32Array>, Out<L, Uint8Array>>> {
  return startAsync(() => forwardCall(input, options));
}

export interface HiddenBackwardInput<L extends FloatIn = FloatIn> extends HiddenInput<L> {
  lse: Float32Array | DeviceTensor;
  gradToken?: Float32Array | DeviceTensor;
  gradStep?: Float32Array | DeviceTensor;
  /** [v, d] fp32: with accumulateDweight, the gradient is added into it (and it is returned as dweight). */
  dweight?: Float32Array | DeviceTensor;
}

export interface HiddenBackwardOptions extends HiddenOptions {
  /** Compute dhidden [n, d] (default true). */
  dhidden?: boolean;
  /** Compute dweight [v, d] (default true). */
  dweight?: boolean;
  /** Add into input.dweight instead of overwriting (gradient accumulation; default false). */
  accumulateDweight?: boolean;
}

function backwardCall(input: HiddenBackwardInput, options: HiddenBackwardOptions | undefined): Call {
  const o = checkKeys('options', options, ['chunkRows', 'checkValues', 'dhidden', 'dweight', 'accumulateDweight']) as HiddenBackwardOptions;
  const { call, n, d, v, s } = prepare('stepLogprobHiddenBackward', input, ['lse', 'gradToken', 'gradStep', 'dweight'], o);
  call.f32('lse', input.lse, n, { finite: true });
  call.f32('gradToken', input.gradToken, n, { optional: true, finite: true });
  call.f32('gradStep', input.gradStep, s, { optional: true, finite: true });
  const wantDh = o.dhidden === undefined ? true : expectBoolean('options.dhidden', o.dhidden);
  const wantDw = o.dweight === undefined ? true : expectBoolean('options.dweight', o.dweight);
  const acc = o.accumulateDweight === undefined ? false : expectBoolean('options.accumulateDweight', o.accumulateDweight);
  if (acc && !wantDw) throw new ArgumentError('options.accumulateDweight', 'false when options.dweight is false', 'true');
  if (acc && input.dweight === undefined) throw new ArgumentError('dweight', 'a [v, d] Float32Array to accumulate into', 'undefined');
  Object.assign(call.raw, { wantDhidden: wantDh, wantDweight: wantDw, accumulateDweight: acc });
  // No JS scan of dweight: it is v·d values (hundreds of millions for a real LM head).
  if (input.dweight !== undefined) call.f32('dweight', input.dweight, v * d);
  if (wantDh) call.out('dhidden', 'f32', n * d);
  if (wantDw && input.dweight === undefined) call.out('dweight', 'f32', v * d);
  return call;
}

type Grads<L> = { dhidden?: Out<L, Float32Array>; dweight?: Out<L, Float32Array> };

/** Backward through the LM head: dhidden = G·weight, dweight = Gᵀ·hidden, G the dlogits of stepLogprobBackward. */
export function stepLogprobFromHiddenBackward<L extends FloatIn>(input: HiddenBackwardInput<L>, options?: HiddenBackwardOptions): Grads<L> {
  return backwardCall(input, options).run();
}

export function stepLogprobFromHiddenBackwardAsync<L extends FloatIn>(
  input: HiddenBackwardInput<L>,
  options?: HiddenBackwardOptions,
): Promise<Grads<L>> {
  return startAsync(() => backwardCall(input, options));
}
