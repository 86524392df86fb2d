/**
 * Realistic inputs for the kernel benchmark (kernels.md §3.4): logits with the scale of a trained LM
 * (bulk σ = 2.5, a heavy right tail), targets drawn from each row's own softmax, and a DPO-like mask
 * (packed sequences, 30–60% prompt tokens ignored, ragged steps).
 *
 * Filling 4096 × 151936 values one random draw at a time would take longer in JS than the benchmark itself, so
 * each row is a window of one large random pool, at a random offset. A prefix sum of exp(pool) then gives every
 * row's softmax normaliser in O(1), and sampling a target from that softmax is a binary search: exact, not an
 * approximation. Pool values are rounded to bf16 first, so the fp32 and bf16 cases hold the same numbers.
 */
import { Rng } from '@stepwise/core';

export type BenchDType = 'float32' | 'bfloat16';

// One shared 4-byte scratch: these run millions of times while the pool is built.
const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** bf16 bits of x, round to nearest even (finite inputs only; the pool never holds NaN). */
export function f32ToBf16Bits(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  scratchU[0] = (h & 0xffff) << 16;
  return scratchF[0];
}

export interface LogitsPool {
  values: Float32Array;
  bits: Uint16Array;
  /** prefix[i] = Σ_{j<i} exp(values[j]) in float64. */
  prefix: Float64Array;
}

/** Bulk N(0, σ²) plus, with probability `tailProb`, a positive Exp-distributed bump: the plausible next tokens. */
export function makePool(size: number, rng: Rng, sigma = 2.5, tailProb = 0.002, tailMean = 3): LogitsPool {
  const values = new Float32Array(size);
  const bits = new Uint16Array(size);
  const prefix = new Float64Array(size + 1);
  for (let i = 0; i < size; i++) {
    let z = sigma * rng.normal();
    if (rng.next() < tailProb) z += 4 - tailMean * Math.log(1 - rng.next());
    const h = f32ToBf16Bits(z);
    bits[i] = h;
    values[i] = bf16BitsToF32(h);
    prefix[i + 1] = prefix[i] + Math.exp(values[i]);
  }
  return { values, bits, prefix };
}

/** Index j in [lo, hi) with prefix[j] <= u < prefix[j+1] (prefix non-decreasing). */
export function searchPrefix(prefix: Float64Array, lo: number, hi: number, u: number): number {
  let a = lo;
  let b = hi - 1;
  while (a < b) {
    const mid = (a + b + 1) >>> 1;
    if (prefix[mid] <= u) a = mid;
    else b = mid - 1;
  }
  return a;
}

/** [lo, hi]: each sequence's prompt (ignored) share is uniform in this range. */
export type PromptFraction = readonly [number, number];
export const DPO_PROMPTS: PromptFraction = [0.3, 0.6];
/** --all-active: no ignored tokens, so every row of N counts as work. */
export const NO_PROMPTS: PromptFraction = [0, 0];

export interface TokenLayout {
  /** -1 = ignored (prompt) token. */
  ignored: Uint8Array;
  stepIndex: Int32Array;
  numSteps: number;
  activeRows: number;
}

/**
 * Packed sequences of 128–1024 tokens (the last one cut at n); each starts with a prompt of 30–60% of its
 * tokens (ignored, step -1), and its completion is split into steps of 16–96 tokens with consecutive ids.
 */
export function makeLayout(n: number, rng: Rng, promptFraction: PromptFraction = DPO_PROMPTS): TokenLayout {
  const ignored = new Uint8Array(n);
  const stepIndex = new Int32Array(n).fill(-1);
  let t = 0;
  let step = 0;
  let active = 0;
  while (t < n) {
    const len = Math.min(n - t, rng.intRange(128, 1024));
    const prompt = Math.round(len * (promptFraction[0] + (promptFraction[1] - promptFraction[0]) * rng.next()));
    for (let i = 0; i < prompt; i++) ignored[t + i] = 1;
    let i = prompt;
    while (i < len) {
      const s = Math.min(len - i, rng.intRange(16, 96));
      for (let k = 0; k < s; k++) stepIndex[t + i + k] = step;
      active += s;
      i += s;
      step++;
    }
    t += len;
  }
  return { ignored, stepIndex, numSteps: step, activeRows: active };
}

export interface LogitsCase {
  n: number;
  v: number;
  dtype: BenchDType;
  /** Float32Array for float32, Uint16Array of bf16 bits for bfloat16. */
  logits: Float32Array | Uint16Array;
  targets: Int32Array;
  stepIndex: Int32Array;
  numSteps: number;
  activeRows: number;
}

/** A [n, v] logits case; the pool must be longer than v. Same seed, same data for both dtypes. */
export function makeLogitsCase(
  n: number,
  v: number,
  dtype: BenchDType,
  pool: LogitsPool,
  seed: string,
  prompts: PromptFraction = DPO_PROMPTS,
): LogitsCase {
  const size = pool.values.length;
  if (size <= v) throw new RangeError(`makeLogitsCase: pool of ${size} is not longer than v=${v}`);
  const rng = new Rng(seed);
  const layout = makeLayout(n, rng.split('layout'), prompts);
  const pick = rng.split('rows');
  const logits = dtype === 'float32' ? new Float32Array(n * v) : new Uint16Array(n * v);
  const source = dtype === 'float32' ? pool.values : pool.bits;
  const targets = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const o = pick.int(size - v + 1);
    (logits as Float32Array).set((source as Float32Array).subarray(o, o + v), r * v);
    if (layout.ignored[r]) {
      targets[r] = -1;
    } else {
      const u = pool.prefix[o] + pick.next() * (pool.prefix[o + v] - pool.prefix[o]);
      targets[r] = Math.min(v - 1, searchPrefix(pool.prefix, o, o + v, u) - o);
    }
  }
  return { n, v, dtype, logits, targets, stepIndex: layout.stepIndex, numSteps: layout.numSteps, activeRows: layout.activeRows };
}

export interface HiddenCase {
  n: number;
  d: number;
  v: number;
  hidden: Float32Array;
  weight: Float32Array;
  targets: Int32Array;
  stepIndex: Int32Array;
  numSteps: number;
  activeRows: number;
}

/**
 * Hidden states ~ N(0,1) and an LM head whose rows have log-normal norms (frequent tokens are larger: the heavy
 * tail), scaled so the logits have σ ≈ 3. Targets here are Zipf-distributed, NOT drawn from the softmax: that
 * would need the full 2·n·d·v GEMM in JS, and the kernels' cost does not depend on which column is the target.
 */
export function makeHiddenCase(n: number, d: number, v: number, seed: string, prompts: PromptFraction = DPO_PROMPTS): HiddenCase {
  const rng = new Rng(seed);
  const layout = makeLayout(n, rng.split('layout'), prompts);
  const gauss = new Float32Array(1 << 20);
  const g = rng.split('pool');
  for (let i = 0; i < gauss.length; i++) gauss[i] = g.normal();
  const windows = rng.split('windows');
  const fill = (out: Float32Array, rows: number, scaleOf: (r: number) => number) => {
    for (let r = 0; r < rows; r++) {
      const o = windows.int(gauss.length - d + 1);
      const s = scaleOf(r);
      for (let k = 0; k < d; k++) out[r * d + k] = s * gauss[o + k];
    }
  };
  const hidden = new Float32Array(n * d);
  fill(hidden, n, () => 1);
  const weight = new Float32Array(v * d);
  const norms = rng.split('norms');
  // E[exp(0.5 N)]^2 ≈ 1.28, so 3/sqrt(1.28 d) keeps the logit σ near 3.
  fill(weight, v, () => (3 / Math.sqrt(1.28 * d)) * Math.exp(0.5 * norms.normal()));
  const zipf = rng.split('targets');
  const targets = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    // Inverse-CDF of a continuous Zipf(s=1.1) over [1, v], shifted to 0-based ids.
    targets[t] = layout.ignored[t] ? -1 : Math.min(v - 1, Math.floor(Math.pow(1 - zipf.next() * (1 - Math.pow(v, -0.1)), -10)) - 1);
  }
  return { n, d, v, hidden, weight, targets, stepIndex: layout.stepIndex, numSteps: layout.numSteps, activeRows: layout.activeRows };
}

export interface RewardCase {
  rewards: Float32Array;
  offsets: BigInt64Array;
  scale: Float32Array;
  numSegments: number;
  total: number;
}

/** B sequences with 8–56 steps each (mean 32, kernels.md §2(b)); chosen/rejected alternate ±gamma. */
export function makeRewardCase(segments: number, gamma: number, seed: string): RewardCase {
  const rng = new Rng(seed);
  const offsets = new BigInt64Array(segments + 1);
  let total = 0;
  for (let s = 0; s < segments; s++) {
    total += rng.intRange(8, 56);
    offsets[s + 1] = BigInt(total);
  }
  const rewards = new Float32Array(total);
  for (let i = 0; i < total; i++) rewards[i] = rng.normal();
  const scale = new Float32Array(segments);
  for (let s = 0; s < segments; s++) scale[s] = s % 2 === 0 ? gamma : -gamma;
  return { rewards, offsets, scale, numSegments: segments, total };
}

export interface DpoCase {
  policyChosen: Float32Array;
  policyRejected: Float32Array;
  refChosen: Float32Array;
  refRejected: Float32Array;
  margin: Float32Array;
  numPairs: number;
}

/** Sequence log-prob sums of a few hundred tokens: policy and reference close, per-pair margins ~0.1. */
export function makeDpoCase(pairs: number, seed: string): DpoCase {
  const rng = new Rng(seed);
  const mk = () => new Float32Array(pairs);
  const c = { policyChosen: mk(), policyRejected: mk(), refChosen: mk(), refRejected: mk(), margin: mk(), numPairs: pairs };
  for (let p = 0; p < pairs; p++) {
    c.refChosen[p] = -150 + 40 * rng.normal();
    c.refRejected[p] = -170 + 40 * rng.normal();
    c.policyChosen[p] = c.refChosen[p] + 2 * rng.normal();
    c.policyRejected[p] = c.refRejected[p] + 2 * rng.normal();
    c.margin[p] = 0.1 * rng.next();
  }
  return c;
}
