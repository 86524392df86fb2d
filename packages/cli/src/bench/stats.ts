/**
 * Timing statistics for the kernel benchmark. One code path for every number (floors, native, references),
 * so that the median and the p20/p80 spread mean the same thing everywhere (kernels.md §3.3: "median of many
 * runs, also record p20/p80").
 */

export interface Summary {
  /** Median seconds. */
  median: number;
  p20: number;
  p80: number;
  min: number;
  max: number;
  /** Number of timed repeats. */
  n: number;
}

/** Linear-interpolation quantile (the "type 7" definition of R and numpy) of samples, q in [0, 1]. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new RangeError('quantile: expected at least one sample');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q must be in [0, 1], got ${q}`);
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  for (const x of samples) {
    if (!Number.isFinite(x) || x < 0) throw new RangeError(`summarize: sample ${x} is not a finite duration`);
  }
  return {
    median: quantile(samples, 0.5),
    p20: quantile(samples, 0.2),
    p80: quantile(samples, 0.8),
    min: Math.min(...samples),
    max: Math.max(...samples),
    n: samples.length,
  };
}

/** Work per second from a median time; 0 work or a zero time gives 0 rather than Infinity/NaN. */
export function rate(work: number, seconds: number): number {
  return work > 0 && seconds > 0 ? work / seconds : 0;
}

/**
 * Fraction of a floor reached: floorSeconds / measured seconds, i.e. measured rate / floor rate.
 * 1.0 = at the floor; > 1 is possible when the floor is an estimate the kernel beats (e.g. a cheaper exp).
 */
export function floorRatio(floorSeconds: number, seconds: number): number {
  return floorSeconds > 0 && seconds > 0 ? floorSeconds / seconds : 0;
}

/** How many times faster `seconds` is than `baselineSeconds` (undefined when either is missing). */
export function speedup(baselineSeconds: number | undefined, seconds: number): number | undefined {
  if (baselineSeconds === undefined || !(baselineSeconds > 0) || !(seconds > 0)) return undefined;
  return baselineSeconds / seconds;
}

export interface TimeOptions {
  warmup: number;
  repeats: number;
  /** Untimed work before each call (e.g. restoring logits that an in-place kernel overwrote). */
  setup?: () => void;
  /** Stop adding repeats once this many seconds have been spent timing (at least `minRepeats` are kept). */
  budgetSeconds?: number;
  minRepeats?: number;
}

/** Wall-clock seconds of each timed call to fn, after `warmup` untimed calls. */
export function timeRepeats(fn: () => void, opts: TimeOptions): number[] {
  const minRepeats = Math.max(1, Math.min(opts.minRepeats ?? 3, opts.repeats));
  for (let i = 0; i < opts.warmup; i++) {
    opts.setup?.();
    fn();
  }
  const out: number[] = [];
  let spent = 0;
  for (let i = 0; i < opts.repeats; i++) {
    opts.setup?.();
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    out.push(dt);
    spent += dt;
    if (opts.budgetSeconds !== undefined && spent > opts.budgetSeconds && out.length >= minRepeats) break;
  }
  return out;
}

/** Calls/second style timing for µs-scale functions: each sample is the mean over `inner` back-to-back calls. */
export function timePerCall(fn: () => void, inner: number, opts: TimeOptions): number[] {
  if (!(Number.isInteger(inner) && inner >= 1)) throw new RangeError(`timePerCall: inner must be a positive integer`);
  return timeRepeats(() => {
    for (let i = 0; i < inner; i++) fn();
  }, opts).map((s) => s / inner);
}
