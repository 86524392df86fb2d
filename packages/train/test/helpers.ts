/** Test helpers: central differences in float64 and a deterministic non-zero number source. */
export function centralDiff(f: (x: Float64Array) => number, x0: ArrayLike<number>, i: number, h = 1e-5): number {
  const xp = Float64Array.from(x0);
  const xm = Float64Array.from(x0);
  xp[i] += h;
  xm[i] -= h;
  return (f(xp) - f(xm)) / (2 * h);
}

/** Small LCG so fixtures are reproducible without depending on test order. Never returns 0. */
export function numbers(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return {
    uniform: (lo: number, hi: number) => lo + (hi - lo) * next(),
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}

/** Random paired sums [2P] with log-prob-like negative values. */
export function randomSums(seed: number, pairs: number) {
  const r = numbers(seed);
  const policy = Float64Array.from({ length: 2 * pairs }, () => r.uniform(-40, -2));
  const reference = Float64Array.from({ length: 2 * pairs }, (_, i) => policy[i] + r.uniform(-3, 3));
  return { policy, reference };
}
