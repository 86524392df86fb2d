/**
 * Exact rational arithmetic on BigInt. Used so that integer/fraction answers are compared exactly (no float
 * tolerance can make 1000000 equal 1000050) and so that polynomial identities are checked exactly at random
 * rational points. Every operation checks a bit-size cap, so a hostile input such as 9^9^9 cannot allocate
 * unbounded memory: over the cap the result is `null` and the caller falls back to floating point.
 */

export interface Rational {
  readonly n: bigint; // numerator, carries the sign
  readonly d: bigint; // denominator, always > 0
}

/** Largest numerator/denominator bit length we keep exactly. Beyond it callers use floats. */
export const MAX_RATIONAL_BITS = 4096;

function abs(a: bigint): bigint {
  return a < 0n ? -a : a;
}

function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function bitLength(a: bigint): number {
  return abs(a).toString(16).length * 4;
}

const LIMIT = 1n << BigInt(MAX_RATIONAL_BITS);

function tooBig(a: bigint): boolean {
  // A comparison, not bitLength(): this runs after every operation and toString would dominate the cost.
  return a >= LIMIT || a <= -LIMIT;
}

export function rat(n: bigint, d: bigint = 1n): Rational | null {
  if (d === 0n) return null;
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  const r = g > 1n ? { n: n / g, d: d / g } : { n, d };
  if (tooBig(r.n) || tooBig(r.d)) return null;
  return r;
}

export const ZERO: Rational = { n: 0n, d: 1n };
export const ONE: Rational = { n: 1n, d: 1n };

export function add(a: Rational, b: Rational): Rational | null {
  return rat(a.n * b.d + b.n * a.d, a.d * b.d);
}
export function sub(a: Rational, b: Rational): Rational | null {
  return rat(a.n * b.d - b.n * a.d, a.d * b.d);
}
export function mul(a: Rational, b: Rational): Rational | null {
  return rat(a.n * b.n, a.d * b.d);
}
export function div(a: Rational, b: Rational): Rational | null {
  if (b.n === 0n) return null;
  return rat(a.n * b.d, a.d * b.n);
}
export function neg(a: Rational): Rational {
  return { n: -a.n, d: a.d };
}
export function isZero(a: Rational): boolean {
  return a.n === 0n;
}
export function isInteger(a: Rational): boolean {
  return a.d === 1n;
}
export function equals(a: Rational, b: Rational): boolean {
  return a.n === b.n && a.d === b.d;
}

/** a^k for an integer k; null when the result would exceed the size cap or divides by zero. */
export function powInt(a: Rational, k: bigint): Rational | null {
  if (k === 0n) return a.n === 0n ? null : ONE; // 0^0 is left undecided
  const negExp = k < 0n;
  const e = negExp ? -k : k;
  // Estimate the size before computing: bits(a) * e must stay under the cap.
  const bits = Math.max(bitLength(a.n), bitLength(a.d));
  if (bits > 1 && Number(e) * (bits - 1) > MAX_RATIONAL_BITS) return null;
  if (e > 100000n) return null;
  let n = a.n ** e;
  let d = a.d ** e;
  if (negExp) [n, d] = [d, n];
  return rat(n, d);
}

/** Exact integer k-th root of a non-negative bigint, or null when it is not a perfect power. */
export function exactRoot(x: bigint, k: number): bigint | null {
  if (x < 0n) return null;
  if (x < 2n) return x;
  // Newton's method on bigints, started from the float estimate.
  const approx = Math.round(Math.pow(Number(x), 1 / k));
  const candidates = Number.isFinite(approx) && approx < 2 ** 50 ? [BigInt(approx)] : [];
  for (const c of candidates) {
    for (const delta of [0n, 1n, -1n]) {
      const r = c + delta;
      if (r >= 0n && r ** BigInt(k) === x) return r;
    }
  }
  if (candidates.length > 0) return null;
  // Large values: integer Newton iteration.
  let r = 1n << BigInt(Math.ceil(bitLength(x) / k) + 1);
  const kb = BigInt(k);
  for (let i = 0; i < 2000; i++) {
    const next = ((kb - 1n) * r + x / r ** (kb - 1n)) / kb;
    if (next >= r) break;
    r = next;
  }
  return r ** kb === x ? r : null;
}

/** k-th root of a rational when it is exactly rational, else null. */
export function rootRational(a: Rational, k: number): Rational | null {
  if (a.n < 0n) {
    if (k % 2 === 0) return null;
    const r = rootRational(neg(a), k);
    return r ? neg(r) : null;
  }
  const n = exactRoot(a.n, k);
  const d = exactRoot(a.d, k);
  return n !== null && d !== null ? rat(n, d) : null;
}

export function toNumber(a: Rational): number {
  const n = Number(a.n);
  const d = Number(a.d);
  if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
  // Huge parts: scale both down by the same power of two before converting.
  const shift = BigInt(Math.max(bitLength(a.n), bitLength(a.d)) - 1000);
  return Number(a.n >> shift) / Number(a.d >> shift);
}

/** Parses a plain decimal literal ("12", "-0.5", ".25", "1.5e-3") exactly. */
export function parseDecimal(s: string): Rational | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/.exec(s);
  if (!m) return null;
  const [, sign, int = '', frac = '', exp] = m;
  if (int === '' && frac === '') return null;
  let n = BigInt((int || '0') + frac);
  let d = 10n ** BigInt(frac.length);
  if (exp !== undefined) {
    const e = Number(exp);
    if (e >= 0) n *= 10n ** BigInt(e);
    else d *= 10n ** BigInt(-e);
  }
  if (sign === '-') n = -n;
  return rat(n, d);
}

export function ratToString(a: Rational): string {
  return a.d === 1n ? a.n.toString() : `${a.n}/${a.d}`;
}
