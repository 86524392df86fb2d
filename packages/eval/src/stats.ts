/**
 * Confidence intervals for accuracies and for paired differences between two models on the same problems.
 * Accuracies use the Wilson score interval (well behaved near 0 and 1 and for small n, unlike the normal
 * "Wald" interval). A paired difference uses the per-problem differences d_i = b_i − a_i ∈ {−1, 0, 1}: its
 * mean ± z·sd/√n, plus McNemar's exact test on the discordant pairs, because "B beats A" must be judged
 * on the same problems, not on two independent intervals.
 */

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  n: number;
}

const Z95 = 1.959963984540054;

/** Wilson score interval for k successes out of n (n = 0 gives [0, 1]). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) {
    throw new RangeError(`wilson: expected integers 0 <= k <= n, got k=${k}, n=${n}`);
  }
  if (n === 0) return { estimate: 0, lo: 0, hi: 1, n };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { estimate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half), n };
}

export interface PairedComparison extends Interval {
  /** Problems B got right and A wrong, and the reverse. */
  bOnly: number;
  aOnly: number;
  /** Two-sided exact McNemar p-value (binomial test on the discordant pairs). */
  pValue: number;
  /** True when the 95% interval of B − A excludes zero on the positive side. */
  significantlyBetter: boolean;
}

/** B − A accuracy on the same problems (a[i], b[i] = correctness on problem i). */
export function pairedDifference(a: readonly boolean[], b: readonly boolean[], z = Z95): PairedComparison {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: expected equal lengths, got ${a.length} and ${b.length}`);
  const n = a.length;
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] && !b[i]) aOnly++;
    if (b[i] && !a[i]) bOnly++;
  }
  if (n === 0) return { estimate: 0, lo: -1, hi: 1, n, aOnly, bOnly, pValue: 1, significantlyBetter: false };
  const mean = (bOnly - aOnly) / n;
  // Sample variance of d_i ∈ {−1, 0, 1}: E[d²] − mean², with the n/(n−1) correction.
  const ex2 = (bOnly + aOnly) / n;
  const variance = n > 1 ? ((ex2 - mean * mean) * n) / (n - 1) : 0;
  const half = z * Math.sqrt(variance / n);
  const lo = Math.max(-1, mean - half);
  const hi = Math.min(1, mean + half);
  const pValue = mcnemarExact(bOnly, aOnly);
  return { estimate: mean, lo, hi, n, aOnly, bOnly, pValue, significantlyBetter: lo > 0 };
}

/** Two-sided exact binomial test of b vs c discordant pairs under p = 1/2. */
export function mcnemarExact(b: number, c: number): number {
  const m = b + c;
  if (m === 0) return 1;
  const k = Math.min(b, c);
  // P(X <= k) for X ~ Bin(m, 1/2), summed in log space to stay exact for large m.
  let logTerm = -m * Math.LN2; // log C(m,0) / 2^m
  let cdf = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log(m - i + 1) - Math.log(i);
    cdf += Math.exp(logTerm);
  }
  return Math.min(1, 2 * cdf);
}
