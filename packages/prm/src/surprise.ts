/**
 * A value head over the policy's own surprise: for each step prefix, features of the log-probabilities the
 * policy model assigns to the prefix's tokens, read at the step's closing separator, and a logistic layer on
 * them fitted with binary cross-entropy to N = 1 outcome labels (methods.md §4.1).
 *
 * Why it works where the generative verifier (scorer.ts) did not: a policy that has learnt the task's
 * arithmetic assigns a low probability to a wrong result it is made to read (a corpus slip, or a slip it
 * sampled itself at temperature > 0). The running minimum of the token log-probs therefore drops at the first
 * error and stays down, which is exactly the shape of the oracle's prefix value (1 until the first error, 0
 * after). The N = 1 labels only have to teach the sign and the scale of that signal, which a handful of
 * parameters learn from a few hundred solutions; the generative verifier had to learn the arithmetic itself
 * from one outcome bit per solution (docs/prm.md §5).
 *
 * The log-probs come from the native engine's forward (`Model.logits`) and the step log-prob kernel
 * (`stepLogprob`), so scoring a batch of solutions is one forward pass. The head is deterministic: the fit is
 * Newton's method on an L2-regularised convex loss from zero weights.
 */
import { CharTokenizer, type Problem } from '@stepwise/core';
import { stepLogprob, type Model } from '@stepwise/native';
import type { StepScorer } from '@stepwise/search';

import { encodeSolution, type EncodedSolution, type PrmExample } from './encode.js';
import { PrmArgumentError } from './errors.js';
import { sigmoid } from './loss.js';

/** The features of one step prefix, in this order (FEATURE_NAMES). */
export const FEATURE_NAMES = ['runningMinLogp', 'stepMinLogp', 'runningMeanLogp', 'stepIndex'] as const;
export const NUM_FEATURES = FEATURE_NAMES.length;

export interface SurpriseFeatureOptions {
  tokenizer?: CharTokenizer;
  /** Most tokens per forward pass. Default 16384. */
  maxBatchTokens?: number;
}

/**
 * features[i][k] = the FEATURE_NAMES values of prefix steps[0..k] of item i, from the policy `model`. Tokens of
 * the solution only (the prompt's own log-probs say nothing about the solution); each step's tokens include its
 * closing separator.
 */
export async function surpriseFeatures(model: Model, items: readonly { problem: Problem; steps: readonly string[] }[], opts: SurpriseFeatureOptions = {}): Promise<number[][][]> {
  const tokenizer = opts.tokenizer ?? new CharTokenizer();
  const maxBatch = opts.maxBatchTokens ?? 16384;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new PrmArgumentError('maxBatchTokens', 'a positive integer', maxBatch);
  if (tokenizer.vocabSize > model.config.vocabSize)
    throw new PrmArgumentError('tokenizer', `a vocabulary of at most the model's ${model.config.vocabSize} tokens`, tokenizer.vocabSize);
  const enc = items.map((it, i) => {
    if (!it || typeof it.problem?.question !== 'string') throw new PrmArgumentError(`items[${i}].problem`, 'a Problem with a question');
    return encodeSolution(tokenizer, it.problem.question, it.steps, model.config.maxSeqLen);
  });
  const out: number[][][] = enc.map(() => []);
  // Solutions without steps have no prefixes to score: they stay [] and cost no forward pass.
  const live = enc.flatMap((e, i) => (e.stepEnds.length > 0 ? [i] : []));
  for (let start = 0; start < live.length; ) {
    let end = start;
    for (let len = 0; end < live.length && (end === start || len + enc[live[end]!]!.tokens.length <= maxBatch); ) len += enc[live[end++]!]!.tokens.length;
    await featuresOfChunk(model, live.slice(start, end).map((i) => enc[i]!), (k, feats) => (out[live[start + k]!] = feats));
    start = end;
  }
  return out;
}

async function featuresOfChunk(model: Model, enc: readonly EncodedSolution[], put: (k: number, feats: number[][]) => void): Promise<void> {
  const offsets = [0];
  for (const e of enc) offsets.push(offsets.at(-1)! + e.tokens.length);
  const total = offsets.at(-1)!;
  const tokens = new Int32Array(total);
  // Row r predicts token r + 1 of its sequence: only rows whose next token is a solution token are wanted.
  const targets = new Int32Array(total).fill(-1);
  for (let i = 0; i < enc.length; i++) {
    const e = enc[i]!;
    const base = offsets[i]!;
    tokens.set(e.tokens, base);
    for (let r = e.promptLen - 1; r < e.tokens.length - 1; r++) targets[base + r] = e.tokens[r + 1]!;
  }
  const V = model.config.vocabSize;
  const raw = await model.logits({ tokens, offsets });
  // A float64 model returns Float64Array logits; the kernel reads fp32 (its fast path is within 1e-4 anyway).
  const logits = raw instanceof Float32Array ? raw : Float32Array.from(raw);
  const tokenLogp = stepLogprob({ logits, vocabSize: V, targets }).tokenLogp as Float32Array;
  for (let i = 0; i < enc.length; i++) {
    const e = enc[i]!;
    const base = offsets[i]!;
    const feats: number[][] = [];
    let runMin = 0;
    let runSum = 0;
    let runCount = 0;
    let first = e.promptLen; // index (in tokens) of the step's first token
    e.stepEnds.forEach((last, k) => {
      let stepMin = 0;
      for (let tok = first; tok <= last; tok++) {
        const lp = tokenLogp[base + tok - 1]!; // log p(token tok | tokens before it)
        stepMin = Math.min(stepMin, lp);
        runSum += lp;
        runCount++;
      }
      runMin = Math.min(runMin, stepMin);
      feats.push([runMin, stepMin, runSum / Math.max(1, runCount), k]);
      first = last + 1;
    });
    put(i, feats);
  }
}

/** A fitted logistic layer over standardised features: value = sigmoid(w · (f − mean) / std + b). */
export interface SurpriseHeadParams {
  schema: 'stepwise.surprise-head@1';
  features: readonly string[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
  /** The fit: examples (prefixes), final mean BCE, Newton iterations, L2 strength. */
  fit: { prefixes: number; loss: number; iterations: number; l2: number };
}

export interface FitOptions {
  /** L2 strength on the weights (not the bias), per prefix. Default 1e-3. */
  l2?: number;
  /** Newton iterations at most. Default 50. */
  maxIterations?: number;
}

/**
 * Fits the head by Newton's method (iteratively reweighted least squares) on the mean BCE + l2/2·|w|², from
 * zero weights: convex, so the result does not depend on an initialisation or a seed. `labels` may be soft
 * (in [0, 1]).
 */
export function fitSurpriseHead(features: readonly (readonly number[])[], labels: readonly number[], opts: FitOptions = {}): SurpriseHeadParams {
  const n = features.length;
  if (n === 0) throw new PrmArgumentError('features', 'at least one labelled prefix', 0);
  if (labels.length !== n) throw new PrmArgumentError('labels', `one label per feature row (${n})`, labels.length);
  const l2 = opts.l2 ?? 1e-3;
  const maxIt = opts.maxIterations ?? 50;
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new PrmArgumentError('l2', 'a finite number >= 0', l2);
  if (!Number.isInteger(maxIt) || maxIt < 1) throw new PrmArgumentError('maxIterations', 'an integer >= 1', maxIt);
  const d = NUM_FEATURES;
  features.forEach((f, i) => {
    if (f.length !== d || !f.every(Number.isFinite)) throw new PrmArgumentError(`features[${i}]`, `${d} finite numbers (${FEATURE_NAMES.join(', ')})`, f);
    const y = labels[i]!;
    if (!(y >= 0 && y <= 1)) throw new PrmArgumentError(`labels[${i}]`, 'a number in [0, 1]', y);
  });
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const f of features) for (let j = 0; j < d; j++) mean[j]! += f[j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (const f of features) for (let j = 0; j < d; j++) std[j]! += (f[j]! - mean[j]!) ** 2;
  // A feature constant over the data (up to rounding) carries no information: its column is exactly 0 and its
  // weight stays 0, so an unseen value of it cannot swing the output.
  const constant = std.map((v, j) => Math.sqrt(v / n) <= 1e-12 * (1 + Math.abs(mean[j]!)));
  for (let j = 0; j < d; j++) std[j] = constant[j] ? 1 : Math.sqrt(std[j]! / n);
  const x = features.map((f) => [...f.map((v, j) => (constant[j] ? 0 : (v - mean[j]!) / std[j]!)), 1]); // last column: the bias
  const p = d + 1;
  const w = new Array<number>(p).fill(0);
  const loss = () => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const z = dot(w, x[i]!);
      s += labels[i]! * softplus(-z) + (1 - labels[i]!) * softplus(z);
    }
    return s / n + (l2 / 2) * w.slice(0, d).reduce((a, v) => a + v * v, 0);
  };
  let iterations = 0;
  for (; iterations < maxIt; iterations++) {
    const g = new Array<number>(p).fill(0);
    const h = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const q = sigmoid(dot(w, xi));
      const r = (q - labels[i]!) / n;
      const c = (q * (1 - q)) / n;
      for (let a = 0; a < p; a++) {
        g[a]! += r * xi[a]!;
        for (let b = 0; b <= a; b++) h[a]![b]! += c * xi[a]! * xi[b]!;
      }
    }
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) h[b]![a] = h[a]![b]!;
    for (let a = 0; a < d; a++) (g[a]! += l2 * w[a]!), (h[a]![a]! += l2);
    // A tiny ridge keeps the system solvable: a constant (zero) column, or one class only (the bias then runs off).
    for (let a = 0; a < p; a++) h[a]![a]! += 1e-12;
    const step = solve(h, g);
    // Damped: halve the step until the loss does not rise (Newton on a logistic loss can overshoot far out).
    const before = loss();
    const w0 = [...w];
    let applied = 0;
    for (let t = 1; t > 1e-6; t /= 2) {
      for (let a = 0; a < p; a++) w[a] = w0[a]! - t * step[a]!;
      if (loss() <= before) {
        applied = t;
        break;
      }
    }
    if (applied === 0) {
      // No step lowers the loss: at the optimum up to rounding. Keep the last accepted weights.
      for (let a = 0; a < p; a++) w[a] = w0[a]!;
      break;
    }
    if (Math.max(...step.map((s) => Math.abs(applied * s))) < 1e-10) break;
  }
  return { schema: 'stepwise.surprise-head@1', features: [...FEATURE_NAMES], mean, std, weights: w.slice(0, d), bias: w[d]!, fit: { prefixes: n, loss: loss(), iterations, l2 } };
}

/** The head's value of one prefix's features. */
export function surpriseValue(head: SurpriseHeadParams, f: readonly number[]): number {
  if (f.length !== head.weights.length) throw new PrmArgumentError('features', `${head.weights.length} numbers (${FEATURE_NAMES.join(', ')})`, f.length);
  let z = head.bias;
  for (let j = 0; j < head.weights.length; j++) z += (head.weights[j]! * (f[j]! - head.mean[j]!)) / head.std[j]!;
  return sigmoid(z);
}

/** Checks a head read from JSON (a file written by another version, or by hand). */
export function validateSurpriseHead(v: unknown): SurpriseHeadParams {
  const h = v as SurpriseHeadParams;
  if (!h || h.schema !== 'stepwise.surprise-head@1') throw new PrmArgumentError('head.schema', "'stepwise.surprise-head@1'", h?.schema);
  if (JSON.stringify(h.features) !== JSON.stringify(FEATURE_NAMES)) throw new PrmArgumentError('head.features', FEATURE_NAMES.join(', '), h.features);
  for (const k of ['mean', 'std', 'weights'] as const)
    if (!Array.isArray(h[k]) || h[k].length !== NUM_FEATURES || !h[k].every(Number.isFinite)) throw new PrmArgumentError(`head.${k}`, `${NUM_FEATURES} finite numbers`, h[k]);
  if (h.std.some((s) => !(s > 0))) throw new PrmArgumentError('head.std', 'positive numbers', h.std);
  if (!Number.isFinite(h.bias)) throw new PrmArgumentError('head.bias', 'a finite number', h.bias);
  return h;
}

/**
 * Trains the head on N = 1 examples (every step of a solution labelled with its final-answer correctness, see
 * outcomeExamples) read through the policy `model`.
 */
export async function trainSurpriseHead(model: Model, examples: readonly PrmExample[], opts: FitOptions & SurpriseFeatureOptions = {}): Promise<SurpriseHeadParams> {
  // Labels are checked before the forward pass, so a bad example costs no compute.
  examples.forEach((e, i) => {
    if (!Array.isArray(e?.labels) || e.labels.length !== e.steps?.length)
      throw new PrmArgumentError(`examples[${i}].labels`, `one label per step (${e?.steps?.length})`, e?.labels?.length);
    e.labels.forEach((y, k) => {
      if (!(y >= 0 && y <= 1)) throw new PrmArgumentError(`examples[${i}].labels[${k}]`, 'a number in [0, 1]', y);
    });
  });
  const feats = await surpriseFeatures(model, examples, opts);
  const rows: number[][] = [];
  const labels: number[] = [];
  examples.forEach((e, i) => feats[i]!.forEach((f, k) => (rows.push(f), labels.push(e.labels[k]!))));
  return fitSurpriseHead(rows, labels, opts);
}

/** The fitted head as a StepScorer over the policy model: one value in [0, 1] per step prefix. */
export class SurpriseScorer implements StepScorer {
  readonly name: string;

  constructor(
    readonly model: Model,
    readonly head: SurpriseHeadParams,
    private readonly opts: SurpriseFeatureOptions & { name?: string } = {},
  ) {
    validateSurpriseHead(head);
    this.name = opts.name ?? 'prm:surprise';
  }

  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    return (await this.scoreMany([{ problem, steps }]))[0]!;
  }

  async scoreMany(items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]> {
    const feats = await surpriseFeatures(this.model, items, this.opts);
    return feats.map((fs) => fs.map((f) => surpriseValue(this.head, f)));
  }
}

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** Solves the small symmetric positive definite system h · s = g (Gaussian elimination with partial pivoting). */
function solve(h: number[][], g: number[]): number[] {
  const n = g.length;
  const a = h.map((row, i) => [...row, g[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[piv]![c]!)) piv = r;
    [a[c], a[piv]] = [a[piv]!, a[c]!];
    const d = a[c]![c]! || 1e-300;
    for (let r = c + 1; r < n; r++) {
      const f = a[r]![c]! / d;
      for (let k = c; k <= n; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  const s = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let v = a[r]![n]!;
    for (let k = r + 1; k < n; k++) v -= a[r]![k]! * s[k]!;
    s[r] = v / (a[r]![r]! || 1e-300);
  }
  return s;
}
