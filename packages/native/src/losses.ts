/**
 * The small kernels the losses are built from: (b) reward weighting over a ragged batch and (c) the DPO
 * margin loss with its gradients and reductions (architecture.md §3; methods.md §1.3, §3.1, §4.3).
 */
import type { DeviceTensor } from './device.js';
import { ArgumentError } from './errors.js';
import { Call, checkKeys, startAsync } from './marshal.js';
import { expectBoolean, expectFloat32, expectNumber, toOffsets } from './validate.js';

type F32In = Float32Array | DeviceTensor;
type Out<L> = L extends DeviceTensor ? DeviceTensor : Float32Array;
/** Segment boundaries: numSegments + 1 values, offsets[0] = 0, non-decreasing, last = total. */
export type Offsets = BigInt64Array | Int32Array | readonly number[];

export interface RewardWeightsInput<L extends F32In = F32In> {
  /** [total] one reward per element (token or step); finite. */
  rewards: L;
  offsets: Offsets;
  /** Per-segment scale (+γ chosen, −γ rejected), or one number for every segment. Finite. */
  scale: number | Float32Array | DeviceTensor;
}

function scaleArg(call: Call, scale: unknown, segments: number): void {
  if (typeof scale === 'number') {
    expectNumber('scale', scale, () => true, 'a finite number or a Float32Array of one scale per segment');
    const s = new Float32Array(segments).fill(scale);
    call.small('scale', s); // uploaded for the call on the device
  } else {
    call.f32('scale', scale, segments, { finite: true });
  }
}

function forwardCall(input: RewardWeightsInput, options: { checkValues?: boolean } | undefined): Call {
  checkKeys('input', input, ['rewards', 'offsets', 'scale']);
  const o = checkKeys('options', options, ['checkValues']);
  const call = new Call('rewardWeightsForward', input.rewards);
  const total = (input.rewards as { length?: number } | undefined)?.length;
  if (typeof total !== 'number') throw new ArgumentError('rewards', 'a Float32Array', typeof input.rewards);
  call.f32('rewards', input.rewards, undefined, { finite: true });
  const offsets = toOffsets('offsets', input.offsets, total);
  call.i64('offsets', offsets);
  scaleArg(call, input.scale, offsets.length - 1);
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  call.out('weights', 'f32', total);
  return call;
}

/** w_i = softmax over segment s of scale_s · r_i. Empty segments produce nothing. */
export function rewardWeights<L extends F32In>(input: RewardWeightsInput<L>, options?: { checkValues?: boolean }): { weights: Out<L> } {
  return forwardCall(input, options).run();
}

export function rewardWeightsAsync<L extends F32In>(input: RewardWeightsInput<L>, options?: { checkValues?: boolean }): Promise<{ weights: Out<L> }> {
  return startAsync(() => forwardCall(input, options));
}

export interface RewardWeightsBackwardInput<L extends F32In = F32In> {
  /** [total] the forward's output. */
  weights: L;
  /** [total] dL/dweights. */
  gradWeights: F32In;
  offsets: Offsets;
  scale: number | Float32Array | DeviceTensor;
}

function backwardCall(input: RewardWeightsBackwardInput, options: { checkValues?: boolean } | undefined): Call {
  checkKeys('input', input, ['weights', 'gradWeights', 'offsets', 'scale']);
  const o = checkKeys('options', options, ['checkValues']);
  const call = new Call('rewardWeightsBackward', input.weights);
  const total = (input.weights as { length?: number } | undefined)?.length;
  if (typeof total !== 'number') throw new ArgumentError('weights', 'a Float32Array', typeof input.weights);
  call.f32('weights', input.weights, undefined, { finite: true });
  call.f32('gradWeights', input.gradWeights, total, { finite: true });
  const offsets = toOffsets('offsets', input.offsets, total);
  call.i64('offsets', offsets);
  scaleArg(call, input.scale, offsets.length - 1);
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  call.out('gradRewards', 'f32', total);
  return call;
}

/** dL/dr_i = scale_s · w_i · (g_i − Σ_j w_j g_j) within segment s. */
export function rewardWeightsBackward<L extends F32In>(input: RewardWeightsBackwardInput<L>, options?: { checkValues?: boolean }): { gradRewards: Out<L> } {
  return backwardCall(input, options).run();
}

export function rewardWeightsBackwardAsync<L extends F32In>(
  input: RewardWeightsBackwardInput<L>,
  options?: { checkValues?: boolean },
): Promise<{ gradRewards: Out<L> }> {
  return startAsync(() => backwardCall(input, options));
}

// ---- DPO margin ------------------------------------------------------------------------------------------

export interface DpoInput<L extends F32In = F32In> {
  /** [P] policy log-prob sums of the chosen responses/steps (token sums, or length-normalised for IPO). Finite. */
  policyChosen: L;
  policyRejected: F32In;
  refChosen: F32In;
  refRejected: F32In;
  /** [P] per-pair margin m subtracted inside the sigmoid: −log σ(β·h − m) (SPPD: m = γ(V_w − V_l)). Default 0. */
  margin?: F32In;
}

export interface DpoOptions {
  /** β > 0 (default 0.1). */
  beta?: number;
  /** ε in [0, 0.5] for the sigmoid loss: −(1−ε) log σ(z) − ε log σ(−z) (default 0). */
  labelSmoothing?: number;
  /** 'sigmoid' (default, DPO/Step-DPO/SPPD) or 'ipo': (h − 1/(2β))², margin and ε unused. */
  lossType?: 'sigmoid' | 'ipo';
  /** Multiplies the gradients (default 1; pass 1/P for the gradient of meanLoss). */
  gradScale?: number;
  /** Return gradChosen/gradRejected (default true). */
  grads?: boolean;
  /** Scan inputs for NaN/Inf (default true; host only). */
  checkValues?: boolean;
}

export interface DpoResult<T = Float32Array> {
  /** [P] per-pair loss. */
  loss: T;
  /** [P] gradScale · dloss/dpolicyChosen. */
  gradChosen?: T;
  /** [P] gradScale · dloss/dpolicyRejected (= −gradChosen). */
  gradRejected?: T;
  /** Mean loss over pairs (0 when P = 0). */
  meanLoss: number;
  /** Fraction of pairs with β(pc − rc) > β(pr − rr). */
  rewardAccuracy: number;
  /** Mean β(pc − rc). */
  chosenReward: number;
  /** Mean β(pr − rr). */
  rejectedReward: number;
  /** Mean β·h = chosenReward − rejectedReward. */
  rewardMargin: number;
}

const DPO_OPTIONS = ['beta', 'labelSmoothing', 'lossType', 'gradScale', 'grads', 'checkValues'] as const;

function dpoCall(input: DpoInput, options: DpoOptions | undefined): Call {
  checkKeys('input', input, ['policyChosen', 'policyRejected', 'refChosen', 'refRejected', 'margin']);
  const o = checkKeys('options', options, DPO_OPTIONS) as DpoOptions;
  const call = new Call('dpoMargin', input.policyChosen);
  if (call.loc === 'host') expectFloat32('policyChosen', input.policyChosen);
  const p = (input.policyChosen as { length: number }).length;
  call.f32('policyChosen', input.policyChosen, p, { finite: true });
  call.f32('policyRejected', input.policyRejected, p, { finite: true });
  call.f32('refChosen', input.refChosen, p, { finite: true });
  call.f32('refRejected', input.refRejected, p, { finite: true });
  call.f32('margin', input.margin, p, { optional: true, finite: true });
  if (o.beta !== undefined) call.set('beta', expectNumber('options.beta', o.beta, (b) => b > 0, 'a finite number > 0'));
  if (o.labelSmoothing !== undefined)
    call.set('labelSmoothing', expectNumber('options.labelSmoothing', o.labelSmoothing, (e) => e >= 0 && e <= 0.5, 'a number in [0, 0.5]'));
  if (o.lossType !== undefined) {
    if (o.lossType !== 'sigmoid' && o.lossType !== 'ipo') throw new ArgumentError('options.lossType', "'sigmoid' or 'ipo'", String(o.lossType));
    call.set('lossType', o.lossType);
  }
  if (o.gradScale !== undefined) call.set('gradScale', expectNumber('options.gradScale', o.gradScale, () => true, 'a finite number'));
  if (o.checkValues !== undefined) call.set('checkValues', expectBoolean('options.checkValues', o.checkValues));
  const grads = o.grads === undefined ? true : expectBoolean('options.grads', o.grads);
  call.set('wantGrads', grads);
  call.out('loss', 'f32', p);
  if (grads) {
    call.out('gradChosen', 'f32', p);
    call.out('gradRejected', 'f32', p);
  }
  return call;
}

/** Per-pair DPO/SPPD/IPO loss, its gradients wrt the policy sums, and the batch reductions. */
export function dpoMargin<L extends F32In>(input: DpoInput<L>, options?: DpoOptions): DpoResult<Out<L>> {
  return dpoCall(input, options).run();
}

export function dpoMarginAsync<L extends F32In>(input: DpoInput<L>, options?: DpoOptions): Promise<DpoResult<Out<L>>> {
  return startAsync(() => dpoCall(input, options));
}
