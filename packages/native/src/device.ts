/**
 * DeviceTensor: CUDA memory owned from JavaScript, so chains of kernels stay on the GPU. Kernels accept
 * DeviceTensors in place of host arrays and then return DeviceTensors.
 *
 * Lifetime: call dispose() (or `using t = DeviceTensor.upload(...)`); after it every use throws DisposedError.
 * GC finalisation also frees the memory, but late and not necessarily before exit. Disposing a tensor that a
 * pending async kernel uses is safe: the memory is released when that kernel is done with it.
 */
import { Bf16Array } from './bf16.js';
import { backends, loadBinding } from './binding.js';
import { ArgumentError, BackendUnavailableError, DisposedError, describe } from './errors.js';

export type DeviceDtype = 'f32' | 'bf16' | 'i32' | 'i64' | 'u8';
export type HostArray = Float32Array | Bf16Array | Int32Array | BigInt64Array | Uint8Array;

/** The native object behind a DeviceTensor (see native/napi/device_binding.cc). */
interface RawDeviceTensor {
  readonly dtype: DeviceDtype;
  readonly length: number;
  readonly device: number;
  readonly disposed: boolean;
  download(): Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
  dispose(): void;
}

const DTYPES: readonly DeviceDtype[] = ['f32', 'bf16', 'i32', 'i64', 'u8'];

/** Throws BackendUnavailableError naming why CUDA cannot be used here (no build, no driver, no device). */
export function requireCuda(what: string): void {
  const { cuda } = backends();
  if (!cuda.usable) throw new BackendUnavailableError(`${what} needs CUDA, which is not usable here: ${cuda.reason ?? 'unknown reason'}`);
}

function hostDtype(data: unknown): { dtype: DeviceDtype; bits: ArrayBufferView } {
  if (data instanceof Float32Array) return { dtype: 'f32', bits: data };
  if (data instanceof Bf16Array) return { dtype: 'bf16', bits: data.bits };
  if (data instanceof Int32Array) return { dtype: 'i32', bits: data };
  if (data instanceof BigInt64Array) return { dtype: 'i64', bits: data };
  if (data instanceof Uint8Array) return { dtype: 'u8', bits: data };
  throw new ArgumentError('data', 'a Float32Array, Bf16Array, Int32Array, BigInt64Array or Uint8Array', describe(data));
}

export class DeviceTensor {
  #raw: RawDeviceTensor | undefined;
  readonly dtype: DeviceDtype;
  readonly length: number;
  readonly device: number;

  private constructor(raw: RawDeviceTensor) {
    this.#raw = raw;
    this.dtype = raw.dtype;
    this.length = raw.length;
    this.device = raw.device;
  }

  /** Copies a host array to the GPU. Integer tensors also keep a host copy, used to validate indices. */
  static upload(data: HostArray, options: { device?: number } = {}): DeviceTensor {
    const { dtype, bits } = hostDtype(data);
    requireCuda('DeviceTensor.upload');
    const Raw = loadBinding().DeviceTensor;
    return new DeviceTensor(new Raw({ dtype, length: (bits as Uint8Array).length, device: options.device ?? 0, data: bits }));
  }

  /** Uninitialised device memory (contents undefined until a kernel writes them). */
  static empty(dtype: DeviceDtype, length: number, options: { device?: number } = {}): DeviceTensor {
    if (!DTYPES.includes(dtype)) throw new ArgumentError('dtype', `one of ${DTYPES.join(', ')}`, describe(dtype));
    if (!Number.isSafeInteger(length) || length < 0) throw new ArgumentError('length', 'a non-negative integer', describe(length));
    requireCuda('DeviceTensor.empty');
    const Raw = loadBinding().DeviceTensor;
    return new DeviceTensor(new Raw({ dtype, length, device: options.device ?? 0 }));
  }

  get disposed(): boolean {
    return this.#raw === undefined || this.#raw.disposed;
  }

  /** Bytes of device memory held. */
  get byteLength(): number {
    return this.length * { f32: 4, bf16: 2, i32: 4, i64: 8, u8: 1 }[this.dtype];
  }

  /** Copies back to a new host array of the matching type (bf16 → Bf16Array). Waits for pending GPU work. */
  download(): HostArray {
    const out = this.raw('download').download();
    return this.dtype === 'bf16' ? new Bf16Array(out as Uint16Array) : (out as HostArray);
  }

  /** Float tensors only: the values as a Float32Array (bf16 decoded exactly). */
  toFloat32(): Float32Array {
    if (this.dtype !== 'f32' && this.dtype !== 'bf16')
      throw new ArgumentError('DeviceTensor.toFloat32', 'a float tensor (f32 or bf16)', this.dtype);
    const h = this.download();
    return h instanceof Bf16Array ? h.toFloat32() : (h as Float32Array);
  }

  /** Frees the device memory (idempotent). */
  dispose(): void {
    this.#raw?.dispose();
    this.#raw = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal The native handle, for kernel calls; throws DisposedError after dispose(). */
  raw(what = 'use'): RawDeviceTensor {
    if (this.#raw === undefined || this.#raw.disposed) throw new DisposedError(`DeviceTensor.${what}: the tensor was disposed`);
    return this.#raw;
  }
}
