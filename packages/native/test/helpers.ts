// Shared test utilities: seeded random inputs and error measures. Seeds come from fast-check so that every
// property run draws fresh inputs and a failure prints the seed that reproduces it.
import fc from 'fast-check';

/** mulberry32: a tiny seeded PRNG, so one fast-check integer seed fixes a whole (large) input. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** Uniform in [lo, hi). */
export function uniform(r: () => number, n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export interface TokenBatch {
  n: number;
  v: number;
  numSteps: number;
  targets: Int32Array;
  stepIndex: Int32Array;
}

/**
 * Random tokens with contiguous-ish steps: some steps empty, some one token; a fraction of ignored tokens
 * (target −1, step −1) and of tokens in no step.
 */
export function tokenBatch(r: () => number, n: number, v: number, numSteps: number, ignoreRate = 0.15): TokenBatch {
  const targets = new Int32Array(n);
  const stepIndex = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    if (r() < ignoreRate) {
      targets[t] = -1 - Math.floor(r() * 100); // any negative value means ignored
      stepIndex[t] = -1;
      continue;
    }
    targets[t] = Math.floor(r() * v);
    stepIndex[t] = numSteps > 0 && r() > 0.1 ? Math.min(numSteps - 1, Math.floor((t / Math.max(n, 1)) * numSteps + r() * 1.5)) : -1;
  }
  return { n, v, numSteps, targets, stepIndex };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue; // covers equal infinities
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as NaN
  }
  return m;
}

/** max |a − b| / (atol + |b|): relative where b is large, absolute near 0. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, atol: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (atol + Math.abs(b[i]));
    if (!(d <= m)) m = d;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Central finite difference of a scalar function along coordinate i of x (float64). */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, i: number, h: number): number {
  const old = x[i];
  x[i] = old + h;
  const up = f(x);
  x[i] = old - h;
  const down = f(x);
  x[i] = old;
  return (up - down) / (2 * h);
}

/** Bitwise equality of two typed arrays (fast for millions of elements, unlike toEqual). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Counts setInterval ticks while `work` runs: a blocked event loop cannot tick. */
export async function ticksDuring<T>(work: () => Promise<T> | T): Promise<{ ticks: number; ms: number; value: T }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 5)); // let the interval start
  ticks = 0;
  const value = await work();
  const ms = performance.now() - t0;
  clearInterval(timer);
  return { ticks, ms, value };
}

/** Logits of a given spread, with a sprinkling of −inf (never a whole row) when `masked`. */
export function makeLogits(r: () => number, n: number, v: number, spread: number, masked: boolean): Float32Array {
  const z = uniform(r, n * v, -spread, spread);
  if (masked && v > 1) for (let t = 0; t < n; t++) if (r() < 0.5) z[t * v + Math.floor(r() * v)] = -Infinity;
  return z;
}

/** Makes sure no target sits on a −inf logit (tested separately), by resetting it to a finite value. */
export function unmaskTargets(z: Float32Array, targets: Int32Array, v: number): void {
  targets.forEach((tg, t) => {
    if (tg >= 0 && z[t * v + tg] === -Infinity) z[t * v + tg] = 0.25;
  });
}
