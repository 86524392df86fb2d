/**
 * bfloat16 in JavaScript. A bf16 value is the upper 16 bits of an IEEE fp32, so a `Uint16Array` holds the
 * bits and conversion is a shift. {@link Bf16Array} wraps such bits so a bf16 tensor can never be mistaken
 * for an integer array (kernels accept `Float32Array | Bf16Array` and pick the dtype from the type).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 → bf16 bits, round to nearest even; NaN stays NaN (same rule as native/common/dtype.h). */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

/** bf16 bits → the exact fp32 (and float64) value they encode. */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** The value `x` has after a round trip through bf16 (what a bf16 kernel actually sees). */
export function roundToBf16(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}

/** A bf16 tensor: `bits` are the raw bf16 words. Construct with {@link Bf16Array.from} or from bits. */
export class Bf16Array {
  /** The raw bf16 words, shared (not copied): kernels read and, for in-place gradients, write them. */
  readonly bits: Uint16Array;

  constructor(bitsOrLength: Uint16Array | number) {
    this.bits = typeof bitsOrLength === 'number' ? new Uint16Array(bitsOrLength) : bitsOrLength;
  }

  /** Rounds every value to bf16 (nearest even). */
  static from(values: ArrayLike<number>): Bf16Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]);
    return new Bf16Array(out);
  }

  get length(): number {
    return this.bits.length;
  }

  get(i: number): number {
    return bf16BitsToF32(this.bits[i]);
  }

  /** The exact values as fp32 (every bf16 is representable). */
  toFloat32(): Float32Array {
    const out = new Float32Array(this.bits.length);
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < this.bits.length; i++) outBits[i] = this.bits[i] << 16;
    return out;
  }
}

/** Float inputs accepted by the kernels. */
export type FloatArray = Float32Array | Bf16Array;

/** Values of a float input as numbers (bf16 decoded exactly); for references and tests. */
export function toFloat(values: FloatArray): Float32Array {
  return values instanceof Bf16Array ? values.toFloat32() : values;
}
