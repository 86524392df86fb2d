/**
 * Turns typed-API arguments into one raw binding call (native/napi/kernels_binding.cc) and back.
 * A call is all-host (typed arrays in, typed arrays out) or all-device (DeviceTensors in and out): the main
 * input decides. On the device, host Int32Array indices are uploaded for the call and freed after it, and
 * outputs are allocated here, on the JS thread, before the kernel runs.
 */
import { Bf16Array } from './bf16.js';
import { loadBinding } from './binding.js';
import { type DeviceDtype, DeviceTensor, requireCuda } from './device.js';
import { ArgumentError, BackendUnavailableError, DisposedError, KernelError, describe } from './errors.js';
import { checkKeys, expectBoolean, expectFinite, expectFloat, expectFloat32, expectInt32 } from './validate.js';

export type Loc = 'host' | 'device';

export class Call {
  readonly raw: Record<string, unknown> = {};
  readonly loc: Loc;
  private readonly temps: DeviceTensor[] = [];
  private readonly outs: DeviceTensor[] = [];
  /** Native handle → its DeviceTensor, so device results (including in-place ones) map back to handles. */
  private readonly handles = new Map<unknown, DeviceTensor>();

  /** `main` is the call's principal input: a DeviceTensor makes this a device call. */
  constructor(
    readonly fn: string,
    main: unknown,
  ) {
    this.loc = main instanceof DeviceTensor ? 'device' : 'host';
    if (this.loc === 'device') {
      requireCuda(fn);
      this.raw.location = 'device';
    }
  }

  /** A float tensor (f32 or bf16); sets `dtype` for the call from it. */
  float(key: string, v: unknown, length: number | undefined): void {
    if (this.loc === 'device') {
      const t = this.tensor(key, v, ['f32', 'bf16'], length);
      this.raw.dtype = t.dtype;
      return;
    }
    const a = expectFloat(key, v, length);
    this.raw[key] = a instanceof Bf16Array ? a.bits : a;
    if (a instanceof Bf16Array) [this.bf16In, this.bf16Owner] = [a.bits, a];
    this.raw.dtype = a instanceof Bf16Array ? 'bf16' : 'f32';
  }

  /** A Float32Array (host, checked finite when `finite`) or f32 DeviceTensor; absent when optional. */
  f32(key: string, v: unknown, length: number | undefined, opts: { optional?: boolean; finite?: boolean } = {}): void {
    if (v === undefined && opts.optional) return;
    if (this.loc === 'device') {
      this.tensor(key, v, ['f32'], length);
      return;
    }
    const a = expectFloat32(key, v, length);
    if (opts.finite) expectFinite(key, a);
    this.raw[key] = a;
  }

  /** Int32 indices: host Int32Array (uploaded for device calls) or an i32 DeviceTensor. */
  i32(key: string, v: unknown, length: number, optional = false): Int32Array | undefined {
    if (v === undefined && optional) return undefined;
    if (this.loc === 'device' && v instanceof DeviceTensor) {
      this.tensor(key, v, ['i32'], length);
      return undefined;
    }
    const a = expectInt32(key, v, length);
    this.raw[key] = this.loc === 'device' ? this.upload(a) : a;
    return a;
  }

  /** A small host array built by the API itself (e.g. a broadcast scale): uploaded for device calls. */
  small(key: string, a: Float32Array): void {
    this.raw[key] = this.loc === 'device' ? this.upload(a) : a;
  }

  /** Int64 offsets, already validated by toOffsets(). */
  i64(key: string, a: BigInt64Array): void {
    this.raw[key] = this.loc === 'device' ? this.upload(a) : a;
  }

  /** Device calls: allocates an output tensor now (host calls let native allocate). */
  out(key: string, dtype: DeviceDtype, length: number): void {
    if (this.loc !== 'device') return;
    const t = DeviceTensor.empty(dtype, length, { device: this.device() });
    this.outs.push(t);
    this.raw[key] = t.raw();
    this.handles.set(this.raw[key], t);
  }

  set(key: string, v: unknown): void {
    if (v !== undefined) this.raw[key] = v;
  }

  /** Runs the raw binding synchronously and converts its result. */
  run<R>(): R {
    try {
      const r = loadBinding()[this.fn](this.raw) as Record<string, unknown>;
      return this.finish(r) as R;
    } catch (e) {
      this.fail();
      throw mapNativeError(e, this.fn);
    } finally {
      this.release();
    }
  }

  /** Queues the raw `…Async` binding; the inputs must not be mutated until the promise settles. */
  async runAsync<R>(): Promise<R> {
    try {
      const r = (await loadBinding()[`${this.fn}Async`](this.raw)) as Record<string, unknown>;
      return this.finish(r) as R;
    } catch (e) {
      this.fail();
      throw mapNativeError(e, `${this.fn}Async`);
    } finally {
      this.release();
    }
  }

  private tensor(key: string, v: unknown, dtypes: DeviceDtype[], length: number | undefined): DeviceTensor {
    if (!(v instanceof DeviceTensor))
      throw new ArgumentError(key, `a DeviceTensor (${dtypes.join(' or ')}) because the main input is on the device`, describe(v));
    if (!dtypes.includes(v.dtype)) throw new ArgumentError(key, `a DeviceTensor of dtype ${dtypes.join(' or ')}`, v.dtype);
    if (length !== undefined && v.length !== length) throw new ArgumentError(key, `a DeviceTensor of length ${length}`, String(v.length));
    this.raw[key] = v.raw(key);
    this.handles.set(this.raw[key], v);
    return v;
  }

  private device(): number {
    for (const v of Object.values(this.raw)) {
      const d = (v as { device?: unknown } | null)?.device;
      if (typeof d === 'number' && d >= 0) return d;
    }
    return 0;
  }

  private upload(a: Float32Array | Int32Array | BigInt64Array): unknown {
    const t = DeviceTensor.upload(a, { device: this.device() });
    this.temps.push(t);
    return t.raw();
  }

  private finish(r: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...r };
    for (const [k, v] of Object.entries(out)) {
      const t = this.handles.get(v);
      if (t) out[k] = t;
    }
    for (const key of ['dlogits', 'grad'] as const) {
      const bits = r[key];
      if (this.loc === 'host' && this.raw.dtype === 'bf16' && bits instanceof Uint16Array) {
        // In place, native returns the caller's own bits; keep returning the caller's Bf16Array then.
        out[key] = this.bf16In === bits ? this.bf16Owner : new Bf16Array(bits);
      }
    }
    return out;
  }

  private bf16In: Uint16Array | undefined;
  private bf16Owner: Bf16Array | undefined;

  private fail(): void {
    for (const t of this.outs) t.dispose();
  }

  private release(): void {
    for (const t of this.temps) t.dispose();
  }
}

/**
 * Validates and queues an async call NOW (so the inputs are captured when the function returns: disposing a
 * DeviceTensor right after is safe), turning a validation error into a rejected promise rather than a throw.
 */
export function startAsync<R>(make: () => Call): Promise<R> {
  try {
    return make().runAsync<R>();
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Native errors → the package's typed errors. */
export function mapNativeError(e: unknown, fn: string): Error {
  if (!(e instanceof Error)) return new KernelError(`${fn}: ${String(e)}`);
  if (e instanceof ArgumentError || e instanceof BackendUnavailableError || e instanceof DisposedError) return e;
  if (e instanceof TypeError || e instanceof RangeError) return ArgumentError.fromNative(e, fn);
  if (/was disposed/.test(e.message)) return new DisposedError(e.message);
  if (/CUDA is not usable|has no CUDA code/.test(e.message)) return new BackendUnavailableError(e.message);
  const k = new KernelError(`${fn}: ${e.message}`);
  k.cause = e;
  return k;
}

export { checkKeys };

/**
 * Declares the outputs of a step log-prob forward (from logits or from hidden states): token log-probs, step
 * sums, the saved log-sum-exp, and entropy / argmax hits when asked for.
 */
export function declareStepLogprobOutputs(call: Call, o: { entropy?: unknown; argmaxHit?: unknown }, n: number, numSteps: number): void {
  const wantEntropy = o.entropy === undefined ? false : expectBoolean('options.entropy', o.entropy);
  const wantHit = o.argmaxHit === undefined ? false : expectBoolean('options.argmaxHit', o.argmaxHit);
  Object.assign(call.raw, { wantEntropy, wantArgmaxHit: wantHit });
  call.out('tokenLogp', 'f32', n);
  call.out('stepSum', 'f32', numSteps);
  call.out('lse', 'f32', n);
  if (wantEntropy) call.out('entropy', 'f32', n);
  if (wantHit) call.out('argmaxHit', 'u8', n);
}
