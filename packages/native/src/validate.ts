/**
 * Argument checks of the typed API, run before anything reaches native code. The C++ layer repeats the
 * checks that guard memory safety (so raw callers cannot crash the process); these give the friendlier
 * ArgumentError with the public argument names. O(n) scans (targets, steps, small float arrays) run here;
 * O(n·v) scans over logits/hidden/weights run natively (inside the job for async calls).
 */
import { Bf16Array, type FloatArray } from './bf16.js';
import { ArgumentError, describe } from './errors.js';

/** A typed array whose buffer was transferred/detached reads as length 0; this tells the two apart. */
export function isDetached(a: ArrayBufferView): boolean {
  if (a.byteLength !== 0 || a.buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(a.buffer);
    return false;
  } catch {
    return true;
  }
}

function checkView(name: string, a: ArrayBufferView, what: string, length?: number): void {
  if (isDetached(a)) throw new ArgumentError(name, `${what} with a live (not transferred) buffer`, 'a detached array');
  const len = (a as unknown as { length: number }).length;
  if (length !== undefined && len !== length) throw new ArgumentError(name, `${what} of length ${length}`, describe(a));
}

export function expectInteger(name: string, v: unknown, min: number, max = 2 ** 31 - 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ArgumentError(name, `an integer in [${min}, ${max}]`, describe(v));
  return v;
}

export function expectNumber(name: string, v: unknown, check: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new ArgumentError(name, what, describe(v));
  return v;
}

export function expectBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ArgumentError(name, 'a boolean', describe(v));
  return v;
}

/** Float32Array (dtype f32) or Bf16Array (dtype bf16), optionally of an exact length. */
export function expectFloat(name: string, v: unknown, length?: number): FloatArray {
  if (v instanceof Float32Array) {
    checkView(name, v, 'a Float32Array', length);
    return v;
  }
  if (v instanceof Bf16Array) {
    checkView(name, v.bits, 'a Bf16Array', length);
    return v;
  }
  throw new ArgumentError(name, `a Float32Array or Bf16Array${length === undefined ? '' : ` of length ${length}`}`, describe(v));
}

export function expectFloat32(name: string, v: unknown, length?: number): Float32Array {
  if (!(v instanceof Float32Array))
    throw new ArgumentError(name, `a Float32Array${length === undefined ? '' : ` of length ${length}`}`, describe(v));
  checkView(name, v, 'a Float32Array', length);
  return v;
}

export function expectInt32(name: string, v: unknown, length?: number): Int32Array {
  if (!(v instanceof Int32Array))
    throw new ArgumentError(name, `an Int32Array${length === undefined ? '' : ` of length ${length}`}`, describe(v));
  checkView(name, v, 'an Int32Array', length);
  return v;
}

/** Every element finite (no NaN, no ±Infinity). */
export function expectFinite(name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++)
    if (!Number.isFinite(a[i])) throw new ArgumentError(`${name}[${i}]`, 'a finite number', describe(a[i]));
}

/** targets in [0, v) or negative (ignored, then step −1); stepIndex in [−1, numSteps). */
export function checkTargets(targets: Int32Array, stepIndex: Int32Array | undefined, v: number, numSteps: number): void {
  for (let t = 0; t < targets.length; t++) {
    const tg = targets[t];
    if (tg >= v) throw new ArgumentError(`targets[${t}]`, `an index in [0, vocabSize = ${v}) or negative (ignored)`, String(tg));
    if (!stepIndex) continue;
    const s = stepIndex[t];
    if (s < -1 || s >= numSteps) throw new ArgumentError(`stepIndex[${t}]`, `a step in [-1, numSteps = ${numSteps})`, String(s));
    if (tg < 0 && s !== -1)
      throw new ArgumentError(`stepIndex[${t}]`, `-1 because targets[${t}] = ${tg} is ignored`, String(s));
  }
}

/** Ragged offsets: offsets[0] = 0, non-decreasing, last = total. Returned as the BigInt64Array the kernel takes. */
export function toOffsets(name: string, v: unknown, total: number): BigInt64Array {
  let list: ArrayLike<number | bigint>;
  if (v instanceof BigInt64Array || v instanceof Int32Array || Array.isArray(v)) list = v as ArrayLike<number | bigint>;
  else throw new ArgumentError(name, 'a BigInt64Array, Int32Array or number[] of segment boundaries', describe(v));
  if (ArrayBuffer.isView(v)) checkView(name, v, 'an offsets array');
  if (list.length < 1) throw new ArgumentError(name, 'at least one offset (offsets[0] = 0)', describe(v));
  const out = new BigInt64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (typeof x === 'number' && !Number.isSafeInteger(x)) throw new ArgumentError(`${name}[${i}]`, 'an integer', describe(x));
    if (typeof x !== 'number' && typeof x !== 'bigint') throw new ArgumentError(`${name}[${i}]`, 'an integer', describe(x));
    out[i] = BigInt(x);
    if (i === 0 && out[0] !== 0n) throw new ArgumentError(`${name}[0]`, '0', String(x));
    if (i > 0 && out[i] < out[i - 1])
      throw new ArgumentError(`${name}[${i}]`, `a non-decreasing offset (>= ${out[i - 1]})`, String(x));
  }
  if (out[out.length - 1] !== BigInt(total))
    throw new ArgumentError(`${name}[${out.length - 1}]`, `the total length ${total}`, String(out[out.length - 1]));
  return out;
}

/** Rejects unknown option keys (a typo such as `exat: true` must not silently fall back to a default). */
export function checkKeys(name: string, obj: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (obj === undefined) return {};
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || ArrayBuffer.isView(obj))
    throw new ArgumentError(name, 'an object', describe(obj));
  for (const k of Object.keys(obj))
    if (!allowed.includes(k)) throw new ArgumentError(`${name}.${k}`, `one of the known keys: ${allowed.join(', ')}`, 'an unknown key');
  return obj as Record<string, unknown>;
}
