import { describe, expect, it } from 'vitest';

import { CharTokenizer, Rng } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { promptText } from '@stepwise/tasks';
import {
  FEATURE_NAMES,
  PrmArgumentError,
  SurpriseScorer,
  corpusExamples,
  fitSurpriseHead,
  heldOutSolutions,
  surpriseFeatures,
  surpriseValue,
  trainSurpriseHead,
  validateSurpriseHead,
  type SurpriseHeadParams,
} from '../src/index.js';

const tok = new CharTokenizer();
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** Solves a·x = b for a small dense system (Gaussian elimination, partial pivoting), float64. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let v = m[r]![n]!;
    for (let k = r + 1; k < n; k++) v -= m[r]![k]! * x[k]!;
    x[r] = v / m[r]![r]!;
  }
  return x;
}

// A true logistic model over 4 features of very different scales and offsets (two of them correlated, one
// integer-valued like stepIndex), in the original feature scale: p = sigmoid(TRUE_W · f + TRUE_B).
const TRUE_W = [0.5, -0.8, 12, 0.15];
const TRUE_B = -(0.5 * -8 + -0.8 * -4 + 12 * 20 + 0.15 * 4.5); // centres the logit: mean p ≈ 1/2
function syntheticData(seed: string, n: number) {
  const rng = new Rng(seed);
  const features: number[][] = [];
  const probs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = [rng.normal(), rng.normal()];
    const f = [-8 + 3 * a, -4 + 1.5 * (0.6 * a + 0.8 * b), 20 + 0.05 * rng.normal(), rng.int(10)];
    const p = sig(TRUE_B + f.reduce((s, v, j) => s + v * TRUE_W[j]!, 0));
    features.push(f);
    probs.push(p);
    labels.push(rng.bernoulli(p) ? 1 : 0);
  }
  return { features, probs, labels };
}

/** The head's parameters mapped back to the original feature scale: [w_0..w_3, bias]. */
const originalScale = (h: SurpriseHeadParams) => [
  ...h.weights.map((w, j) => w / h.std[j]!),
  h.bias - h.weights.reduce((s, w, j) => s + (w * h.mean[j]!) / h.std[j]!, 0),
];

/** Mean BCE + l2/2·|w|² of standardised parameters theta = [w_0..w_3, bias], computed here in float64. */
function standardisedLoss(h: SurpriseHeadParams, theta: number[], features: number[][], labels: number[], l2: number): number {
  let s = 0;
  features.forEach((f, i) => {
    let z = theta[4]!;
    for (let j = 0; j < 4; j++) z += (theta[j]! * (f[j]! - h.mean[j]!)) / h.std[j]!;
    s += labels[i]! * softplus(-z) + (1 - labels[i]!) * softplus(z);
  });
  return s / features.length + (l2 / 2) * theta.slice(0, 4).reduce((a, w) => a + w * w, 0);
}

function expectArgError(fn: () => unknown, argument: string) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PrmArgumentError);
  expect((err as PrmArgumentError).argument).toBe(argument);
}

const bits = (h: SurpriseHeadParams) => new BigUint64Array(Float64Array.from([...h.mean, ...h.std, ...h.weights, h.bias, h.fit.loss]).buffer);

describe('fitSurpriseHead', () => {
  const data = syntheticData('surprise-fit', 20000);

  it('recovers a known logistic model within 4 standard errors (hard labels) and exactly (soft labels)', () => {
    const head = fitSurpriseHead(data.features, data.labels, { l2: 0 });
    expect(head.fit.prefixes).toBe(20000);
    expect(head.fit.iterations).toBeLessThan(50); // converged, not stopped by the cap
    // Standard errors of the MLE: sqrt(diag(I⁻¹)), I = Σ p(1−p) x xᵀ the Fisher information at the truth,
    // x = [f, 1] in the original scale. At 4 SE each of the 5 parameters misses with probability 6e-5.
    const info = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    data.features.forEach((f, i) => {
      const x = [...f, 1];
      const w = data.probs[i]! * (1 - data.probs[i]!);
      for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) info[a]![b]! += w * x[a]! * x[b]!;
    });
    const se = Array.from({ length: 5 }, (_, j) => Math.sqrt(solve(info, [0, 1, 2, 3, 4].map((k) => (k === j ? 1 : 0)))[j]!));
    const truth = [...TRUE_W, TRUE_B];
    const got = originalScale(head);
    for (let j = 0; j < 4; j++) expect(se[j]!).toBeLessThan(0.06 * Math.abs(truth[j]!)); // the check is tight
    got.forEach((g, j) => expect(Math.abs(g - truth[j]!), `parameter ${j}: ${g} vs ${truth[j]} (SE ${se[j]})`).toBeLessThan(4 * se[j]!));

    // Soft labels = the true probabilities: the truth is the exact minimiser of the mean BCE.
    const soft = originalScale(fitSurpriseHead(data.features, data.probs, { l2: 0 }));
    soft.forEach((g, j) => expect(Math.abs(g - truth[j]!)).toBeLessThan(1e-8 * (1 + Math.abs(truth[j]!))));
  });

  it('returns a stationary point of mean BCE + l2/2·|w|² (central finite differences, l2 = 1e-2)', () => {
    const l2 = 1e-2;
    const small = syntheticData('surprise-opt', 3000);
    const head = fitSurpriseHead(small.features, small.labels, { l2 });
    const theta = [...head.weights, head.bias];
    expect(head.fit.loss).toBeCloseTo(standardisedLoss(head, theta, small.features, small.labels, l2), 12);
    const fdGrad = (th: number[]) =>
      th.map((_, j) => {
        const eps = 1e-5;
        const up = th.map((v, k) => (k === j ? v + eps : v));
        const down = th.map((v, k) => (k === j ? v - eps : v));
        return (standardisedLoss(head, up, small.features, small.labels, l2) - standardisedLoss(head, down, small.features, small.labels, l2)) / (2 * eps);
      });
    for (const g of fdGrad(theta)) expect(Math.abs(g)).toBeLessThan(1e-7);
    // The check has power: moving one weight by 1e-4 gives a gradient far above the threshold.
    const moved = fdGrad(theta.map((v, k) => (k === 0 ? v + 1e-4 : v)));
    expect(Math.max(...moved.map(Math.abs))).toBeGreaterThan(1e-6);
  });

  it('is deterministic, survives one-class labels, and rejects bad input naming the argument', () => {
    const f = data.features.slice(0, 500);
    const y = data.labels.slice(0, 500);
    expect(bits(fitSurpriseHead(f, y, { l2: 1e-3 }))).toEqual(bits(fitSurpriseHead(f, y, { l2: 1e-3 })));
    for (const cls of [0, 1])
      for (const l2 of [0, 1e-3]) {
        const h = fitSurpriseHead(f, f.map(() => cls), { l2 });
        expect([...h.weights, h.bias, h.fit.loss].every(Number.isFinite)).toBe(true);
        const v = surpriseValue(h, f[0]!);
        expect(Math.abs(v - cls)).toBeLessThan(0.01);
      }
    expectArgError(() => fitSurpriseHead([], []), 'features');
    expectArgError(() => fitSurpriseHead(f, y.slice(1)), 'labels');
    expectArgError(() => fitSurpriseHead([f[0]!, [1, NaN, 2, 3]], [1, 0]), 'features[1]');
    expectArgError(() => fitSurpriseHead(f.slice(0, 3), [0, 1.5, 1]), 'labels[1]');
    expectArgError(() => fitSurpriseHead([f[0]!, f[1]!, [1, 2, 3]], [0, 1, 1]), 'features[2]');
    expectArgError(() => fitSurpriseHead(f, y, { l2: -1e-3 }), 'l2');
    for (const maxIterations of [0, -1, 2.5, NaN]) expectArgError(() => fitSurpriseHead(f, y, { maxIterations }), 'maxIterations');
    expectArgError(() => surpriseValue(fitSurpriseHead(f, y), [1, 2, 3]), 'features');
  });

  it('gives a feature that is constant in the data exactly zero weight, so unseen values of it change nothing', () => {
    const rng = new Rng('constant-feature');
    const f = Array.from({ length: 7 }, () => [rng.next() * 4 - 2, 0.1, rng.next(), rng.next() * 3]);
    const y = f.map((r) => (r[0]! + r[2]! > 0.5 ? 1 : 0));
    for (const l2 of [0, 1e-3]) {
      const h = fitSurpriseHead(f, y, { l2 });
      expect(h.weights[1]).toBe(0);
      const at = surpriseValue(h, f[0]!);
      for (const v of [0.1000001, 0.0999999, -50]) expect(surpriseValue(h, [f[0]![0]!, v, f[0]![2]!, f[0]![3]!])).toBe(at);
    }
  });
});

describe('validateSurpriseHead', () => {
  const data = syntheticData('surprise-validate', 200);
  const head = fitSurpriseHead(data.features, data.labels);

  it('accepts a fitted head after a JSON round trip and rejects broken ones, naming the field', () => {
    expect(validateSurpriseHead(JSON.parse(JSON.stringify(head)))).toEqual(head);
    expect(head.features).toEqual([...FEATURE_NAMES]);
    expectArgError(() => validateSurpriseHead({ ...head, schema: 'stepwise.surprise-head@2' }), 'head.schema');
    expectArgError(() => validateSurpriseHead(null), 'head.schema');
    expectArgError(() => validateSurpriseHead({ ...head, features: [...FEATURE_NAMES].reverse() }), 'head.features');
    expectArgError(() => validateSurpriseHead({ ...head, features: FEATURE_NAMES.slice(0, 3) }), 'head.features');
    expectArgError(() => validateSurpriseHead({ ...head, std: [1, 0, 1, 1] }), 'head.std');
    expectArgError(() => validateSurpriseHead({ ...head, std: [1, 1, -2, 1] }), 'head.std');
    expectArgError(() => validateSurpriseHead({ ...head, weights: [0.1, NaN, 0.3, 0.4] }), 'head.weights');
    expectArgError(() => validateSurpriseHead({ ...head, mean: [0, 0, 0] }), 'head.mean');
    expectArgError(() => validateSurpriseHead({ ...head, bias: Infinity }), 'head.bias');
  });
});

const config = { vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, maxSeqLen: 512 };
const items = heldOutSolutions({ levels: [1, 2, 3], perLevel: 2, seed: 'surprise' });

/** The features straight from the definition: float64 log-softmax of model.logits, one sequence at a time. */
async function directFeatures(model: Model, problem: { question: string }, steps: readonly string[]): Promise<number[][]> {
  const tokens = [tok.bosId, ...tok.encode(promptText(problem.question))];
  const first = tokens.length;
  const stepOf: number[] = [];
  steps.forEach((s, k) => {
    const t = tok.encode(s + '\n');
    tokens.push(...t);
    stepOf.push(...t.map(() => k));
  });
  const V = tok.vocabSize;
  const logits = await model.logits({ tokens: Int32Array.from(tokens), offsets: [0, tokens.length] });
  const out: number[][] = [];
  let [runMin, stepMin, sum] = [Infinity, Infinity, 0];
  for (let t = first; t < tokens.length; t++) {
    const row = Array.from(logits.subarray((t - 1) * V, t * V)); // row t − 1 predicts token t
    const m = Math.max(...row);
    const lp = row[tokens[t]!]! - m - Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
    stepMin = Math.min(stepMin, lp);
    runMin = Math.min(runMin, lp);
    sum += lp;
    const k = stepOf[t - first]!;
    if (t === tokens.length - 1 || stepOf[t + 1 - first] !== k) {
      out.push([runMin, stepMin, sum / (t - first + 1), k]);
      stepMin = Infinity;
    }
  }
  return out;
}

const maxDiff = (a: number[][][], b: number[][][]) => Math.max(0, ...a.flatMap((x, i) => x.flatMap((r, k) => r.map((v, j) => Math.abs(v - b[i]![k]![j]!)))));

describe('surpriseFeatures', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    // The log-probs pass through the fp32 fast-path kernel (≤ 1e-4); a float64 model is batch-invariant bitwise.
    const tol = 1e-4;
    const model = Model.create(config, { seed: 11, initStd: 0.5, dtype });

    it(`${dtype}: matches the float64 definition from model.logits, prefix by prefix, and batching does not matter`, async () => {
      const full = await surpriseFeatures(model, items);
      expect(full.map((f) => f.length)).toEqual(items.map((it) => it.steps.length));
      const direct = await Promise.all(items.map((it) => directFeatures(model, it.problem, it.steps)));
      expect(maxDiff(full, direct)).toBeLessThan(tol);
      expect(full.flat().some((f) => f[0]! < -3)).toBe(true); // the random model is far from uniform: a real test

      const prefixes = items.flatMap((it) => it.steps.map((_, k) => ({ problem: it.problem, steps: it.steps.slice(0, k + 1) })));
      const pf = await surpriseFeatures(model, prefixes);
      const expected = items.flatMap((_, i) => full[i]!.map((__, k) => full[i]!.slice(0, k + 1)));
      if (dtype === 'float64') expect(pf).toEqual(expected);
      else expect(maxDiff(pf, expected)).toBeLessThan(tol);

      for (const maxBatchTokens of [1, 150]) {
        const b = await surpriseFeatures(model, items, { maxBatchTokens });
        if (dtype === 'float64') expect(b).toEqual(full);
        else expect(maxDiff(b, full)).toBeLessThan(tol);
      }
    });
  }

  it('gives [] for a solution with no steps and rejects bad options', async () => {
    const model = Model.create(config, { seed: 12, initStd: 0.5, dtype: 'float64' });
    const it0 = items[0]!;
    const [none, one] = await surpriseFeatures(model, [{ problem: it0.problem, steps: [] }, it0]);
    expect(none).toEqual([]);
    expect(one).toEqual((await surpriseFeatures(model, [it0]))[0]);
    expect(await surpriseFeatures(model, [])).toEqual([]);
    await expect(surpriseFeatures(model, [it0], { maxBatchTokens: 0 })).rejects.toThrow(/maxBatchTokens/);
    const short = Model.create({ ...config, maxSeqLen: 64 }, { seed: 1 });
    await expect(surpriseFeatures(short, [it0])).rejects.toThrow(PrmArgumentError);
  });
});

describe('SurpriseScorer and trainSurpriseHead', () => {
  const model = Model.create(config, { seed: 13, initStd: 0.5, dtype: 'float64' }); // float64: batch-invariant, so score == scoreMany exactly
  const examples = corpusExamples({ seed: 'surprise-train', errorRate: 0.3, levels: [1, 2] }, 24);

  it('trains on the flattened prefixes; the scorer gives surpriseValue per step, score == scoreMany', async () => {
    expect(new Set(examples.map((e) => e.labels[0])).size).toBe(2); // both outcomes present
    const head = await trainSurpriseHead(model, examples, { l2: 1e-2, maxBatchTokens: 700 });
    const feats = await surpriseFeatures(model, examples);
    expect(head.fit.prefixes).toBe(examples.reduce((s, e) => s + e.steps.length, 0));
    expect(bits(head)).toEqual(bits(fitSurpriseHead(feats.flat(), examples.flatMap((e) => [...e.labels]), { l2: 1e-2 })));

    const scorer = new SurpriseScorer(model, head);
    expect(scorer.name).toBe('prm:surprise');
    const many = await scorer.scoreMany(examples);
    for (let i = 0; i < examples.length; i++) {
      const e = examples[i]!;
      const one = await scorer.score(e.problem, e.steps);
      expect(one).toHaveLength(e.steps.length);
      expect(one).toEqual(many[i]);
      one.forEach((v, k) => {
        expect(v >= 0 && v <= 1).toBe(true);
        expect(v).toBe(surpriseValue(head, feats[i]![k]!));
      });
    }
    expect(new Set(many.flat()).size).toBeGreaterThan(1);
    expect(() => new SurpriseScorer(model, { ...head, std: [0, 1, 1, 1] })).toThrow(/head\.std/);
  });

  it('rejects an example whose labels do not match its steps, naming it', async () => {
    const bad = examples.slice(0, 3).map((e, i) => (i === 1 ? { ...e, labels: e.labels.slice(1) } : e));
    await expect(trainSurpriseHead(model, bad)).rejects.toThrow(PrmArgumentError);
    await expect(trainSurpriseHead(model, bad)).rejects.toThrow(/examples\[1\]\.labels/);
    const badValue = examples.slice(0, 3).map((e, i) => (i === 2 ? { ...e, labels: e.labels.map((y, k) => (k === 0 ? 1.5 : y)) } : e));
    await expect(trainSurpriseHead(model, badValue)).rejects.toThrow(/examples\[2\]\.labels\[0\]/);
  });
});
