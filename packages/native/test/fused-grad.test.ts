// The fused forward + gradient (kernels.h (a+)) and its scale, vs stepLogprob / stepLogprobBackward and the
// float64 references, on fresh random inputs over many shapes; bad inputs; async twins.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ArgumentError, Bf16Array, reference as ref, scaleStepLogprobGrad, scaleStepLogprobGradAsync } from '../src/index.js';
import { stepLogprob, stepLogprobBackward, stepLogprobWithGrad, stepLogprobWithGradAsync } from '../src/index.js'; // (a) and (a+)
import { makeLogits, rng, sameBytes, seedArb, ticksDuring, tokenBatch, uniform, unmaskTargets, type TokenBatch } from './helpers.js';

const F32_EPS = 2 ** -23;
type Grads = { gradToken?: Float32Array; gradStep?: Float32Array };
type Logits = Float32Array | Bf16Array;

/** Object identity without toBe, whose failure message would diff million-element arrays. */
const expectSameObject = (a: unknown, b: unknown, same = true) => expect(a === b, same ? 'the same object' : 'a new object').toBe(same);
const f32 = (a: Logits): Float32Array => (a instanceof Bf16Array ? a.toFloat32() : a);
const bitsOf = (a: Logits): ArrayBufferView => (a instanceof Bf16Array ? a.bits : a);
const copyOf = (a: Logits): Logits => (a instanceof Bf16Array ? new Bf16Array(Uint16Array.from(a.bits)) : Float32Array.from(a));

/** g_t = gradToken[t] + gradStep[stepIndex[t]] (0 for ignored tokens). */
const upstream = (b: TokenBatch, g: Grads) => (t: number) =>
  b.targets[t] < 0 ? 0 : (g.gradToken?.[t] ?? 0) + (b.stepIndex[t] >= 0 && g.gradStep ? g.gradStep[b.stepIndex[t]] : 0);

/** The float64 truth for one input: the unscaled gradient (softmax − onehot) and the row log-sum-exps. */
function oracle(values: Float32Array, b: TokenBatch) {
  const input = { logits: values, vocabSize: b.v, targets: b.targets, stepIndex: b.stepIndex, numSteps: b.numSteps };
  return { values, b, unscaled: ref.stepLogprobUnscaledGradRef(input), lse: ref.stepLogprobRef(input).lse };
}

/**
 * got ≈ want, entry by entry, where the true row is g_t·(onehot − p_t). Allowed: `tol`·|g_t| (1e-5 fast, 1e-6 exact,
 * as for the backward), plus a few fp32 ulps of |lse| + |z| relative to p_tj·|g_t| (the kernel rounds z − lse;
 * the fast path keeps lse in fp32), plus `rounding`·|want| (bf16: 2^-8 per rounding of the output).
 * Ignored rows and −inf logits off the target must be exact zeros.
 */
function expectGrad(got: ArrayLike<number>, want: ArrayLike<number>, o: ReturnType<typeof oracle>, g: (t: number) => number, tol: number, rounding: number, what = 'grad'): void {
  const { b, values } = o;
  expect(got.length).toBe(b.n * b.v);
  for (let t = 0; t < b.n; t++) {
    const gt = Math.abs(g(t));
    const tg = b.targets[t];
    for (let j = 0; j < b.v; j++) {
      const i = t * b.v + j;
      if (tg < 0 || (values[i] === -Infinity && j !== tg)) {
        if (got[i] !== 0) expect.fail(`${what}[${t}, ${j}] = ${got[i]}, expected an exact 0 (${tg < 0 ? 'ignored row' : '−inf logit'})`);
        continue;
      }
      const p = o.unscaled[i] + (j === tg ? 1 : 0);
      const mag = Math.abs(o.lse[t]) + (values[i] === -Infinity ? 0 : Math.abs(values[i]));
      const eTol = gt * (tol + 8 * F32_EPS * mag * p) + rounding * Math.abs(want[i]) + 1e-30;
      if (!(Math.abs(got[i] - want[i]) <= eTol)) expect.fail(`${what}[${t}, ${j}] = ${got[i]}, expected ${want[i]} (tol ${eTol})`);
    }
  }
}

function expectSameForward(got: object, want: object): void {
  const [g, w] = [got as Record<string, ArrayBufferView | undefined>, want as Record<string, ArrayBufferView | undefined>];
  for (const k of ['tokenLogp', 'stepSum', 'lse', 'entropy', 'argmaxHit'])
    if (w[k] === undefined) expect(g[k], k).toBeUndefined();
    else expect(sameBytes(g[k]!, w[k]!), `${k} bitwise`).toBe(true);
}

function setup(seed: number, n: number, v: number, numSteps: number, spread: number, masked: boolean, bf16: boolean) {
  const r = rng(seed);
  const b = tokenBatch(r, n, v, numSteps);
  const z = makeLogits(r, n, v, spread, masked);
  unmaskTargets(z, b.targets, v);
  const logits: Logits = bf16 ? Bf16Array.from(z) : z;
  const base = { vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps };
  return { r, b, logits, base, input: { ...base, logits }, o: oracle(bf16 ? (logits as Bf16Array).toFloat32() : Float32Array.from(z), b) };
}

describe('stepLogprobWithGrad: forward bitwise = stepLogprob, unscaled grad vs the float64 reference', () => {
  const shape = fc.record({
    n: fc.integer({ min: 0, max: 300 }),
    v: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 5000 })),
    numSteps: fc.integer({ min: 0, max: 12 }),
    spread: fc.constantFrom(1, 8, 40, 1e4),
    masked: fc.boolean(),
    exact: fc.boolean(),
    bf16: fc.boolean(),
    extras: fc.boolean(),
  });

  it('property: shapes, spreads to ±1e4, −inf logits, ignored tokens; fp32/bf16, fast/exact; in place = out of place', () => {
    fc.assert(
      fc.property(shape, seedArb, (s, seed) => {
        const { input, o, logits } = setup(seed, s.n, s.v, s.numSteps, s.spread, s.masked, s.bf16);
        const opts = { exact: s.exact, entropy: s.extras, argmaxHit: s.extras };
        const out = stepLogprobWithGrad(input, opts);
        expectSameForward(out, stepLogprob(input, opts));
        expect(out.grad).toBeInstanceOf(s.bf16 ? Bf16Array : Float32Array);
        expectSameObject(out.grad, logits, false);
        expectGrad(f32(out.grad), o.unscaled, o, () => 1, s.exact ? 1e-6 : 1e-5, s.bf16 ? 2 ** -8 : 0);
        const copy = copyOf(logits);
        const ip = stepLogprobWithGrad({ ...input, logits: copy }, { ...opts, inPlace: true });
        expectSameObject(ip.grad, copy);
        expect(sameBytes(bitsOf(ip.grad), bitsOf(out.grad)), 'in place = out of place').toBe(true);
        expectSameForward(ip, out);
      }),
      { numRuns: 60 },
    );
  });

  it('V = 151936 (Qwen2.5) with small n, fp32 and bf16, fast and exact, in place', () => {
    for (const bf16 of [false, true]) {
      const { input, o, logits } = setup(151936 + (bf16 ? 1 : 0), 3, 151936, 2, 12, true, bf16);
      for (const exact of [false, true]) {
        const out = stepLogprobWithGrad(input, { exact, entropy: true });
        expectSameForward(out, stepLogprob(input, { exact, entropy: true }));
        expectGrad(f32(out.grad), o.unscaled, o, () => 1, exact ? 1e-6 : 1e-5, bf16 ? 2 ** -8 : 0);
        const copy = copyOf(logits);
        expectSameObject(stepLogprobWithGrad({ ...input, logits: copy }, { exact, inPlace: true }).grad, copy);
        expect(sameBytes(bitsOf(copy), bitsOf(out.grad))).toBe(true);
      }
    }
  });
});

describe('scaleStepLogprobGrad and known upstream gradients vs stepLogprobBackward', () => {
  const gshape = fc.record({
    n: fc.integer({ min: 0, max: 120 }),
    v: fc.integer({ min: 1, max: 2000 }),
    numSteps: fc.integer({ min: 0, max: 8 }),
    spread: fc.constantFrom(1, 10, 1e4),
    exact: fc.boolean(),
    bf16: fc.boolean(),
    which: fc.constantFrom('token', 'step', 'both'),
  });

  it('property: scale(unscaled) ≈ backward ≈ reference; with gradToken/gradStep the fused grad ≈ backward', () => {
    fc.assert(
      fc.property(gshape, seedArb, (s, seed) => {
        const { r, b, base, input, o } = setup(seed, s.n, s.v, s.numSteps, s.spread, true, s.bf16);
        const gradToken = s.which === 'step' ? undefined : uniform(r, s.n, -2, 2).map((x) => (r() < 0.1 ? 0 : x));
        const grads: Grads = { gradToken, gradStep: s.which === 'token' ? undefined : uniform(r, s.numSteps, -2, 2) };
        const g = upstream(b, grads);
        const tol = s.exact ? 1e-6 : 1e-5;
        const truth = ref.stepLogprobBackwardRef({ ...input, logits: o.values, lse: o.lse, ...grads });

        const fused = stepLogprobWithGrad(input, { exact: s.exact });
        const { dlogits } = stepLogprobBackward({ ...input, lse: fused.lse, ...grads }, { exact: s.exact });
        const bwd = f32(dlogits);
        const scaled = scaleStepLogprobGrad({ ...base, grad: fused.grad, ...grads });
        expectSameObject(scaled.dlogits, fused.grad);
        // bf16: the unscaled grad and then the scaled one are each rounded, so 2·2^-8 (1/128) relative.
        expectGrad(f32(fused.grad), truth, o, g, tol, s.bf16 ? 2 ** -7 : 0, 'scaled');
        expectGrad(f32(fused.grad), bwd, o, g, 2 * tol, s.bf16 ? 3 * 2 ** -8 : 0, 'scaled vs backward');

        const known = stepLogprobWithGrad({ ...input, ...grads }, { exact: s.exact });
        expectSameForward(known, fused);
        expectGrad(f32(known.grad), truth, o, g, tol, s.bf16 ? 2 ** -8 : 0, 'known');
        expectGrad(f32(known.grad), bwd, o, g, 2 * tol, s.bf16 ? 2 * 2 ** -8 : 0, 'known vs backward');
      }),
      { numRuns: 80 },
    );
  });

  // With numSteps = 0 an empty gradStep is still "given": the finished g_t·(onehot − p) = 0, not the unscaled grad.
  it('an empty gradStep (numSteps = 0) still counts as given: the finished grad is all zeros', () => {
    const { input } = setup(3, 4, 7, 0, 2, false, false);
    expect((stepLogprobWithGrad({ ...input, gradStep: new Float32Array(0) }).grad as Float32Array).every((x) => x === 0)).toBe(true);
  });

  it('rows with g_t = 0 become exact zeros; with no upstream at all, scale zeroes everything', () => {
    const { r, b, base, input } = setup(77, 40, 300, 3, 5, false, false);
    const gradToken = uniform(r, 40, 0.5, 1.5).map((x, t) => (t % 2 ? 0 : x));
    const grad = stepLogprobWithGrad(input).grad as Float32Array;
    scaleStepLogprobGrad({ ...base, grad, gradToken });
    for (let t = 0; t < 40; t++) expect(grad.subarray(t * 300, t * 300 + 300).some((x) => x !== 0), `row ${t}`).toBe(t % 2 === 0 && b.targets[t] >= 0);
    const none = stepLogprobWithGrad(input).grad as Float32Array;
    expect(scaleStepLogprobGrad({ ...base, grad: none }).dlogits.every((x) => x === 0)).toBe(true);
  });
});

describe('edge cases', () => {
  it('all tokens ignored: zero outputs and an all-zero grad (out of place, in place, with upstream)', () => {
    const r = rng(99);
    const [n, v] = [17, 33];
    const base = { vocabSize: v, targets: new Int32Array(n).fill(-100), stepIndex: new Int32Array(n).fill(-1), numSteps: 4 };
    for (const logits of [uniform(r, n * v, -5, 5), Bf16Array.from(uniform(r, n * v, -5, 5))]) {
      for (const opts of [{}, { inPlace: true }]) {
        const out = stepLogprobWithGrad({ ...base, logits: copyOf(logits), gradToken: opts.inPlace ? uniform(r, n, 1, 2) : undefined }, opts);
        expect(f32(out.grad).every((x) => x === 0)).toBe(true);
        expect(Array.from(out.tokenLogp)).toEqual(new Array(n).fill(0));
        expect(Array.from(out.stepSum)).toEqual([0, 0, 0, 0]);
      }
    }
  });

  it('−inf logits give exactly 0; a target on −inf gives tokenLogp −inf and a finite row (target entry −1, or g)', () => {
    const r = rng(5);
    const v = 6;
    const z = uniform(r, 3 * v, -3, 3);
    z[0] = z[2] = z[5] = -Infinity; // row 0: masked entries, target 1 finite
    z[v] = -Infinity; // row 1: the target itself is −inf (p = 0)
    z.fill(-Infinity, 2 * v, 3 * v); // row 2: all −inf, allowed because ignored
    const b: TokenBatch = { n: 3, v, numSteps: 2, targets: new Int32Array([1, 0, -1]), stepIndex: new Int32Array([0, 1, -1]) };
    const gradToken = new Float32Array([0.5, 2, 0]);
    for (const bf16 of [false, true]) {
      const logits = bf16 ? Bf16Array.from(z) : z;
      const base = { vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 2 };
      const input = { ...base, logits };
      const o = oracle(f32(logits), b);
      for (const exact of [false, true]) {
        const out = stepLogprobWithGrad(input, { exact });
        expect(out.tokenLogp[1]).toBe(-Infinity);
        expect(out.stepSum[1]).toBe(-Infinity);
        expect(Number.isFinite(out.lse[1])).toBe(true);
        const u = f32(out.grad);
        expect(u[v]).toBe(-1);
        expect(u.every(Number.isFinite)).toBe(true);
        expectGrad(u, o.unscaled, o, () => 1, exact ? 1e-6 : 1e-5, bf16 ? 2 ** -8 : 0);
        const known = f32(stepLogprobWithGrad({ ...input, gradToken }, { exact }).grad);
        expect(known[v]).toBe(2);
        const bwd = f32(stepLogprobBackward({ ...input, lse: out.lse, gradToken }, { exact }).dlogits);
        expectGrad(known, bwd, o, upstream(b, { gradToken }), 2e-5, bf16 ? 2 ** -7 : 0);
        expectGrad(f32(scaleStepLogprobGrad({ ...base, grad: out.grad, gradToken }).dlogits), bwd, o, upstream(b, { gradToken }), 2e-5, bf16 ? 3 * 2 ** -8 : 0);
      }
    }
  });

  it('logits at ±1e4 (ties at the max): p ∈ {0, ½}; V = 1: grad exactly 0', () => {
    const z = new Float32Array([1e4, -1e4, 1e4, -1e4, 0.5, -1e4, 1e4, -1e4, -1e4, 1e4]);
    const b: TokenBatch = { n: 2, v: 5, numSteps: 0, targets: new Int32Array([0, 3]), stepIndex: new Int32Array([-1, -1]) };
    const o = oracle(z, b);
    for (const exact of [false, true]) {
      const out = stepLogprobWithGrad({ logits: z, vocabSize: 5, targets: b.targets }, { exact });
      expect(out.grad.every(Number.isFinite)).toBe(true);
      expectGrad(out.grad, o.unscaled, o, () => 1, exact ? 1e-6 : 1e-5, 0);
      if (exact) expect(Array.from(out.grad, (x) => x + 0)).toEqual([-0.5, 0, 0.5, 0, 0, 0, 0.5, 0, -1, 0.5]);
    }
    const one = stepLogprobWithGrad({ logits: new Float32Array([3.5, -7, 1e4]), vocabSize: 1, targets: new Int32Array([0, 0, 0]) });
    expect(Array.from(one.grad)).toEqual([0, 0, 0]);
  });

  it('one-token steps and empty steps: sums as the forward; gradStep of an empty step changes nothing', () => {
    const r = rng(6);
    const z = uniform(r, 3 * 11, -3, 3);
    const input = { logits: z, vocabSize: 11, targets: new Int32Array([4, 7, 2]), stepIndex: new Int32Array([2, 0, 0]), numSteps: 3 };
    const gradStep = uniform(r, 3, 0.5, 2);
    const out = stepLogprobWithGrad({ ...input, gradStep });
    expect(out.stepSum[2]).toBe(out.tokenLogp[0]);
    expect(out.stepSum[1]).toBe(0);
    const other = stepLogprobWithGrad({ ...input, gradStep: Float32Array.of(gradStep[0], gradStep[1] + 5, gradStep[2]) });
    expect(sameBytes(other.grad, out.grad)).toBe(true);
    const b: TokenBatch = { n: 3, v: 11, numSteps: 3, targets: input.targets, stepIndex: input.stepIndex };
    const o = oracle(z, b);
    expectGrad(out.grad, ref.stepLogprobBackwardRef({ ...input, lse: o.lse, gradStep }), o, upstream(b, { gradStep }), 1e-5, 0);
  });

  it('p_target → 1: the target entry p − 1 = expm1(z_t − lse) stays accurate relative to its tiny size (exact path)', () => {
    const r = rng(8);
    const gaps = [3, 8, 12, 16, 20, 25, 30, 40];
    const v = 10;
    const z = uniform(r, gaps.length * v, -1, 1);
    const targets = Int32Array.from(gaps, () => Math.floor(r() * v));
    gaps.forEach((gap, t) => (z[t * v + targets[t]] = gap + r()));
    // Truth without cancellation: p_t − 1 = −s / (1 + s), s = Σ_{j≠t} exp(z_j − z_t).
    const s = gaps.map((_, t) => z.subarray(t * v, t * v + v).reduce((acc, x, j) => acc + (j === targets[t] ? 0 : Math.exp(x - z[t * v + targets[t]])), 0));
    const truth = s.map((x) => -x / (1 + x));
    for (const exact of [false, true]) {
      const { grad } = stepLogprobWithGrad({ logits: z, vocabSize: v, targets }, { exact });
      const known = stepLogprobWithGrad({ logits: z, vocabSize: v, targets, gradToken: new Float32Array(gaps.length).fill(-3) }, { exact }).grad;
      truth.forEach((w, t) => {
        const i = t * v + targets[t];
        // Exact: relative 1e-6, down to the double rounding of z_t − lse. Fast: its absolute tolerance only (see report).
        const tol = exact ? 1e-6 * Math.abs(w) + 16 * 2 ** -52 * Math.abs(z[i]) : 1e-5;
        expect(Math.abs(grad[i] - w), `row ${t} (gap ${gaps[t]})`).toBeLessThanOrEqual(tol);
        expect(Math.abs(known[i] - 3 * w), `known row ${t}`).toBeLessThanOrEqual(3 * tol);
      });
    }
  });
});

describe('bad inputs: ArgumentError naming the argument, nothing overwritten, no crash', () => {
  const logits = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 0.3) * 3);
  const ok = { logits, vocabSize: 4, targets: new Int32Array([1, 3, -1]), stepIndex: new Int32Array([0, 1, -1]), numSteps: 2 };
  const sOk = () => ({ grad: stepLogprobWithGrad(ok).grad, vocabSize: 4, targets: ok.targets, stepIndex: ok.stepIndex, numSteps: 2 });

  function expectArg(fn: () => unknown, argument: string, message?: RegExp): void {
    let err: unknown = 'no error';
    try { fn(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as ArgumentError).argument).toBe(argument);
    if (message) expect((err as Error).message).toMatch(message);
  }

  it('stepLogprobWithGrad: lengths, upstream values, targets, option keys and types', () => {
    expectArg(() => stepLogprobWithGrad({ ...ok, logits: new Float32Array(11) }), 'logits', /length 12/);
    expectArg(() => stepLogprobWithGrad({ ...ok, logits: Bf16Array.from(new Float32Array(13)) }), 'logits', /length 12/);
    expectArg(() => stepLogprobWithGrad({ ...ok, gradToken: new Float32Array(2) }), 'gradToken', /length 3/);
    expectArg(() => stepLogprobWithGrad({ ...ok, gradStep: new Float32Array(3) }), 'gradStep', /length 2/);
    expectArg(() => stepLogprobWithGrad({ ...ok, gradToken: new Float32Array([0, NaN, 0]) }), 'gradToken[1]', /finite/);
    expectArg(() => stepLogprobWithGrad({ ...ok, gradStep: new Float32Array([Infinity, 0]) }), 'gradStep[0]');
    expectArg(() => stepLogprobWithGrad({ ...ok, targets: new Int32Array([1, 4, -1]) }), 'targets[1]', /vocabSize = 4/);
    expectArg(() => stepLogprobWithGrad({ ...ok, stepIndex: new Int32Array([0, 2, -1]) }), 'stepIndex[1]');
    expectArg(() => stepLogprobWithGrad(ok, { inplace: true } as never), 'options.inplace', /known keys/);
    expectArg(() => stepLogprobWithGrad({ ...ok, lse: new Float32Array(3) } as never), 'input.lse', /known keys/);
    expectArg(() => stepLogprobWithGrad(ok, { inPlace: 1 as never }), 'options.inPlace', /boolean/);
    expectArg(() => stepLogprobWithGrad({ ...ok, logits: new Float64Array(12) as never }), 'logits');
  });

  it('NaN / +Infinity / an all −inf row in the logits: thrown before anything is overwritten, in place or not', async () => {
    const cases: [number, number[], RegExp][] = [[NaN, [5], /NaN at row 1, column 1/], [Infinity, [5], /\+Infinity at row 1, column 1/], [-Infinity, [4, 5, 6, 7], /entirely -Infinity/]];
    for (const [bad, at, msg] of cases) {
      for (const bf16 of [false, true]) {
        for (const inPlace of [false, true]) {
          const z = Float32Array.from(logits);
          for (const i of at) z[i] = bad;
          const input = { ...ok, logits: bf16 ? Bf16Array.from(z) : z };
          const before = Buffer.from(bitsOf(input.logits).buffer.slice(0));
          expectArg(() => stepLogprobWithGrad(input, { inPlace }), 'logits', msg);
          await expect(stepLogprobWithGradAsync(input, { inPlace, exact: true })).rejects.toThrow(msg);
          expect(Buffer.from(bitsOf(input.logits).buffer).equals(before), `${bad} ${bf16} inPlace=${inPlace}: logits unchanged`).toBe(true);
        }
      }
    }
    const ignored = Float32Array.from(logits);
    ignored[9] = NaN; // in an ignored row: allowed, and that row's grad is 0
    expect(Array.from(stepLogprobWithGrad({ ...ok, logits: ignored }, { inPlace: true }).grad.subarray(8))).toEqual([0, 0, 0, 0]);
  });

  it('scaleStepLogprobGrad: lengths, values, targets, keys; the grad is untouched on error', async () => {
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), grad: new Float32Array(11) }), 'grad', /length 12/);
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), grad: new Float64Array(12) as never }), 'grad');
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), gradToken: new Float32Array(4) }), 'gradToken', /length 3/);
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), gradStep: new Float32Array(1) }), 'gradStep', /length 2/);
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), targets: new Int32Array([0, 9, -1]) }), 'targets[1]');
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), stepIndex: undefined }), 'stepIndex', /numSteps > 0/);
    expectArg(() => scaleStepLogprobGrad(sOk(), { inPlace: true } as never), 'options.inPlace', /known keys/);
    expectArg(() => scaleStepLogprobGrad(sOk(), { checkValues: 0 as never }), 'options.checkValues', /boolean/);
    expectArg(() => scaleStepLogprobGrad({ ...sOk(), logits } as never), 'input.logits', /known keys/);
    const s = sOk();
    const before = Float32Array.from(s.grad as Float32Array);
    expectArg(() => scaleStepLogprobGrad({ ...s, gradToken: new Float32Array([1, NaN, 1]) }), 'gradToken[1]');
    await expect(scaleStepLogprobGradAsync({ ...s, gradStep: new Float32Array([1, Infinity]) })).rejects.toBeInstanceOf(ArgumentError);
    expect(sameBytes(s.grad as Float32Array, before)).toBe(true);
  });
});

describe('async twins', () => {
  it('give exactly the sync results, several in flight; in place returns the caller’s array', async () => {
    const { r, base, input, logits } = setup(31, 60, 2500, 5, 6, true, false);
    const bf = Bf16Array.from(logits as Float32Array);
    const gradToken = uniform(r, 60, -1, 1);
    const opts = { entropy: true, argmaxHit: true };
    const want = stepLogprobWithGrad(input, opts);
    const wantKnown = stepLogprobWithGrad({ ...input, gradToken }, { exact: true });
    const wantBf = stepLogprobWithGrad({ ...input, logits: bf }).grad as Bf16Array;
    const [f32Copy, bfCopy, toScale, toScaleSync] = [copyOf(logits), copyOf(bf), copyOf(want.grad), copyOf(want.grad)];
    const [a, aIp, aKnown, aBf, aScale] = await Promise.all([
      stepLogprobWithGradAsync(input, opts),
      stepLogprobWithGradAsync({ ...input, logits: f32Copy }, { ...opts, inPlace: true }),
      stepLogprobWithGradAsync({ ...input, gradToken }, { exact: true }),
      stepLogprobWithGradAsync({ ...input, logits: bfCopy }, { inPlace: true }),
      scaleStepLogprobGradAsync({ ...base, grad: toScale, gradToken }),
    ]);
    expectSameForward(a, want);
    expect(sameBytes(bitsOf(a.grad), bitsOf(want.grad))).toBe(true);
    expectSameObject(aIp.grad, f32Copy);
    expect(sameBytes(bitsOf(aIp.grad), bitsOf(want.grad))).toBe(true);
    expect(sameBytes(bitsOf(aKnown.grad), bitsOf(wantKnown.grad))).toBe(true);
    expectSameObject(aBf.grad, bfCopy);
    expect(sameBytes(bitsOf(aBf.grad), wantBf.bits)).toBe(true);
    expectSameObject(aScale.dlogits, toScale);
    scaleStepLogprobGrad({ ...base, grad: toScaleSync, gradToken });
    expect(sameBytes(bitsOf(toScale), bitsOf(toScaleSync))).toBe(true);
  });

  it('a long fused call (n·v ≈ 50M) keeps the event loop ticking async, and not sync', async () => {
    const r = rng(2025);
    const [n, v] = [384, 131072];
    const b = tokenBatch(r, n, v, 12);
    const input = { logits: uniform(r, n * v, -8, 8), vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 12 };
    const sync = await ticksDuring(() => stepLogprobWithGrad(input, { exact: true }));
    const asyncRun = await ticksDuring(() => stepLogprobWithGradAsync(input, { exact: true }));
    console.log(`fused n·v = ${n * v}: sync ${sync.ms.toFixed(0)} ms, ${sync.ticks} ticks; async ${asyncRun.ms.toFixed(0)} ms, ${asyncRun.ticks} ticks`);
    expect(sync.ticks).toBe(0); // the measurement can fail: a blocking call gets no ticks
    expect(asyncRun.ticks).toBeGreaterThanOrEqual(Math.min(5, Math.floor(asyncRun.ms / 10)));
    expect(asyncRun.ticks).toBeGreaterThan(0);
    expect(sameBytes(asyncRun.value.grad, sync.value.grad)).toBe(true);
    expectSameForward(asyncRun.value, sync.value);
  });
});
