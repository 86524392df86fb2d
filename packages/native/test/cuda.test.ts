// CUDA parity: the same checks as the host suites, on DeviceTensors. Runs only where backends().cuda.usable;
// elsewhere every test is skipped and the reason is printed.
import { describe, expect, it } from 'vitest';

import {
  Bf16Array,
  DeviceTensor,
  DisposedError,
  ArgumentError,
  backends,
  dpoMargin,
  reference as ref,
  rewardWeights,
  rewardWeightsBackward,
  scaleStepLogprobGrad,
  stepLogprob,
  stepLogprobAsync,
  stepLogprobBackward,
  stepLogprobFromHidden,
  stepLogprobFromHiddenBackward,
  stepLogprobWithGrad,
  stepLogprobWithGradAsync,
} from '../src/index.js';
import { expectBackwardMatches, expectForwardMatches } from './compare.js';
import { maxAbs, maxAbsDiff, rng, tokenBatch, uniform, type TokenBatch } from './helpers.js';

const { cuda } = backends();
const skip = !cuda.usable;
if (skip) console.log(`CUDA parity suite skipped: ${cuda.reason ?? 'CUDA not usable'} (compiled: ${cuda.compiled})`);
const f32 = (t: DeviceTensor) => t.toFloat32();

/**
 * A fused-kernel gradient vs its float64 truth `want` (rows g_t·(onehot − p)): tol·|g_t| plus a few fp32 ulps of
 * |lse| + |z| relative to p·|g_t| (the kernel rounds z − lse), plus `rounding`·|want| (bf16 output); ignored rows 0.
 */
function expectFusedGrad(got: Float32Array, want: ArrayLike<number>, values: Float32Array, b: TokenBatch, g: (t: number) => number, tol: number, rounding: number): void {
  const input = { logits: values, vocabSize: b.v, targets: b.targets };
  const [unscaled, { lse }] = [ref.stepLogprobUnscaledGradRef(input), ref.stepLogprobRef(input)];
  expect(got.length).toBe(b.n * b.v);
  for (let i = 0; i < b.n * b.v; i++) {
    const [t, j] = [Math.floor(i / b.v), i % b.v];
    const p = unscaled[i] + (j === b.targets[t] ? 1 : 0);
    const eTol = b.targets[t] < 0 ? 0 : Math.abs(g(t)) * (tol + 8 * 2 ** -23 * (Math.abs(lse[t]) + Math.abs(values[i])) * p) + rounding * Math.abs(want[i]) + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= eTol)) expect.fail(`grad[${t}, ${j}] = ${got[i]}, expected ${want[i]} (tol ${eTol})`);
  }
}

describe('DeviceTensor', () => {
  it.skipIf(skip)('uploads and downloads every dtype exactly; dispose() then DisposedError', () => {
    const r = rng(1);
    const data = [uniform(r, 1000, -5, 5), Bf16Array.from(uniform(r, 77, -5, 5)), Int32Array.from({ length: 33 }, (_, i) => i * 7 - 50), BigInt64Array.from([0n, 5n, 9n]), Uint8Array.from([1, 0, 1])];
    for (const a of data) {
      const t = DeviceTensor.upload(a);
      expect(t.length).toBe(a.length);
      const back = t.download();
      expect(back instanceof Bf16Array ? Array.from(back.bits) : Array.from(back as ArrayLike<number | bigint>)).toEqual(a instanceof Bf16Array ? Array.from(a.bits) : Array.from(a as ArrayLike<number | bigint>));
      t[Symbol.dispose]();
      expect(t.disposed).toBe(true);
      expect(() => t.download()).toThrow(DisposedError);
      t.dispose(); // idempotent
    }
  });

  it.skipIf(skip)('a disposed tensor passed to a kernel throws DisposedError', () => {
    const t = DeviceTensor.upload(new Float32Array([1, 2, 3]));
    t.dispose();
    expect(() => stepLogprob({ logits: t, vocabSize: 3, targets: new Int32Array([0]) })).toThrow(DisposedError);
  });
});

describe('DeviceTensor lifetime with async kernels', () => {
  it.skipIf(skip)('disposing an input while an async kernel runs is safe: the result is still right', async () => {
    const r = rng(8);
    const [n, v] = [256, 32000];
    const host = uniform(r, n * v, -4, 4);
    const b = tokenBatch(r, n, v, 3);
    const logits = DeviceTensor.upload(host);
    const pending = stepLogprobAsync({ logits, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 3 });
    logits.dispose(); // the job holds its own share of the memory
    expect(logits.disposed).toBe(true);
    const out = await pending;
    expectForwardMatches({ tokenLogp: f32(out.tokenLogp), stepSum: f32(out.stepSum), lse: f32(out.lse) }, host, b, 1e-4);
  });
});

describe('CUDA kernels vs the float64 reference', () => {
  it.skipIf(skip)('step log-prob forward/backward on DeviceTensors (fp32 and bf16, fast and exact, in place)', () => {
    for (const [n, v, steps, spread] of [[0, 5, 0, 1], [1, 1, 1, 3], [37, 1000, 5, 10], [300, 257, 40, 1e4], [4, 152064, 2, 12]] as const) {
      for (const bf16 of [false, true]) {
        const r = rng(n * 131 + v + (bf16 ? 1 : 0));
        const b = tokenBatch(r, n, v, steps);
        const host = uniform(r, n * v, -spread, spread);
        const values = bf16 ? Bf16Array.from(host).toFloat32() : host;
        using logits = DeviceTensor.upload(bf16 ? Bf16Array.from(host) : host);
        using targets = DeviceTensor.upload(b.targets);
        for (const exact of [false, true]) {
          const out = stepLogprob({ logits, vocabSize: v, targets, stepIndex: b.stepIndex, numSteps: steps }, { exact, entropy: true, argmaxHit: true });
          expect(out.tokenLogp).toBeInstanceOf(DeviceTensor);
          expectForwardMatches({ tokenLogp: f32(out.tokenLogp), stepSum: f32(out.stepSum), lse: f32(out.lse), entropy: f32(out.entropy!), argmaxHit: out.argmaxHit!.download() as Uint8Array }, values, b, exact ? 1e-6 : 1e-4, { entropy: true, hit: true });
          const gradToken = uniform(r, n, -1, 1);
          const gradStep = uniform(r, steps, -1, 1);
          const lseHost = f32(out.lse);
          using gT = DeviceTensor.upload(gradToken);
          using gS = DeviceTensor.upload(gradStep);
          const { dlogits } = stepLogprobBackward({ logits, vocabSize: v, targets, stepIndex: b.stepIndex, numSteps: steps, lse: out.lse, gradToken: gT, gradStep: gS }, { exact });
          expectBackwardMatches(f32(dlogits), values, b, lseHost, { gradToken, gradStep }, exact ? 1e-6 : 1e-5, bf16 ? 2 ** -8 : 0);
          for (const t of [out.tokenLogp, out.stepSum, out.lse, out.entropy!, out.argmaxHit!, dlogits]) t.dispose();
        }
        using copy = DeviceTensor.upload(bf16 ? Bf16Array.from(host) : host);
        const fwd = stepLogprob({ logits: copy, vocabSize: v, targets, stepIndex: b.stepIndex, numSteps: steps });
        const gradStep = uniform(r, steps, -1, 1);
        const lseHost = f32(fwd.lse);
        const { dlogits } = stepLogprobBackward({ logits: copy, vocabSize: v, targets, stepIndex: b.stepIndex, numSteps: steps, lse: fwd.lse, gradStep: DeviceTensor.upload(gradStep) }, { inPlace: true });
        expect(dlogits).toBe(copy);
        expectBackwardMatches(f32(copy), values, b, lseHost, { gradStep }, 1e-5, bf16 ? 2 ** -8 : 0);
      }
    }
  });

  it.skipIf(skip)('fused forward + gradient and its scale on DeviceTensors (fp32 and bf16, fast and exact, in place, async)', async () => {
    for (const [n, v, steps, spread] of [[0, 5, 0, 1], [1, 1, 1, 3], [37, 1000, 5, 10], [300, 257, 40, 1e4], [4, 152064, 2, 12]] as const) {
      for (const bf16 of [false, true]) {
        const r = rng(n * 137 + v + (bf16 ? 1 : 0));
        const b = tokenBatch(r, n, v, steps);
        const host = uniform(r, n * v, -spread, spread);
        const values = bf16 ? Bf16Array.from(host).toFloat32() : host;
        const unscaled = ref.stepLogprobUnscaledGradRef({ logits: values, vocabSize: v, targets: b.targets });
        const lse64 = ref.stepLogprobRef({ logits: values, vocabSize: v, targets: b.targets }).lse;
        const rounding = bf16 ? 2 ** -8 : 0;
        using logits = DeviceTensor.upload(bf16 ? Bf16Array.from(host) : host);
        using targets = DeviceTensor.upload(b.targets);
        const base = { vocabSize: v, targets, stepIndex: b.stepIndex, numSteps: steps };
        for (const exact of [false, true]) {
          const tol = exact ? 1e-6 : 1e-5;
          const out = stepLogprobWithGrad({ ...base, logits }, { exact, entropy: true, argmaxHit: true });
          expect(out.grad).toBeInstanceOf(DeviceTensor);
          expectForwardMatches({ tokenLogp: f32(out.tokenLogp), stepSum: f32(out.stepSum), lse: f32(out.lse), entropy: f32(out.entropy!), argmaxHit: out.argmaxHit!.download() as Uint8Array }, values, b, exact ? 1e-6 : 1e-4, { entropy: true, hit: true });
          expectFusedGrad(f32(out.grad), unscaled, values, b, () => 1, tol, rounding);
          const gradToken = uniform(r, n, -1, 1);
          const gradStep = uniform(r, steps, -1, 1);
          const g = (t: number) => gradToken[t] + (b.stepIndex[t] >= 0 ? gradStep[b.stepIndex[t]] : 0);
          const truth = ref.stepLogprobBackwardRef({ logits: values, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: steps, lse: lse64, gradToken, gradStep });
          using gT = DeviceTensor.upload(gradToken);
          using gS = DeviceTensor.upload(gradStep);
          const known = stepLogprobWithGrad({ ...base, logits, gradToken: gT, gradStep: gS }, { exact });
          expectFusedGrad(f32(known.grad), truth, values, b, g, tol, rounding);
          const { dlogits } = scaleStepLogprobGrad({ ...base, grad: out.grad, gradToken: gT, gradStep: gS });
          expect(dlogits).toBe(out.grad);
          expectFusedGrad(f32(dlogits), truth, values, b, g, tol, 2 * rounding); // bf16: rounded twice
          for (const o of [out, known]) for (const t of Object.values(o)) if (t) (t as DeviceTensor).dispose();
        }
        using copy = DeviceTensor.upload(bf16 ? Bf16Array.from(host) : host);
        const ip = await stepLogprobWithGradAsync({ ...base, logits: copy }, { inPlace: true });
        expect(ip.grad).toBe(copy);
        expect(ip.lse).toBeInstanceOf(DeviceTensor);
        expectFusedGrad(f32(copy), unscaled, values, b, () => 1, 1e-5, rounding);
        for (const t of [ip.tokenLogp, ip.stepSum, ip.lse]) t.dispose();
      }
    }
  });

  it.skipIf(skip)('device index validation uses the host mirror; async device calls resolve to DeviceTensors', async () => {
    using logits = DeviceTensor.upload(uniform(rng(3), 40, -1, 1));
    using bad = DeviceTensor.upload(new Int32Array([0, 1, 2, 8]));
    expect(() => stepLogprob({ logits, vocabSize: 10, targets: bad })).toThrow(ArgumentError);
    expect(() => stepLogprob({ logits, vocabSize: 10, targets: new Int32Array([0, 1, 2, 3]), stepIndex: new Int32Array([0, 0, 5, 0]), numSteps: 2 })).toThrow(ArgumentError);
    const targets = new Int32Array([0, 9, -1, 4]);
    const a = await stepLogprobAsync({ logits, vocabSize: 10, targets });
    const want = ref.stepLogprobRef({ logits: logits.toFloat32(), vocabSize: 10, targets });
    expect(maxAbsDiff(f32(a.tokenLogp), want.tokenLogp)).toBeLessThan(1e-5);
  });

  it.skipIf(skip)('hidden-state path: forward, dhidden, dweight (accumulating into a device tensor)', () => {
    const r = rng(11);
    const [n, d, v] = [70, 48, 3000];
    const b = tokenBatch(r, n, v, 4);
    const hidden = uniform(r, n * d, -1, 1);
    const weight = uniform(r, v * d, -0.4, 0.4);
    using h = DeviceTensor.upload(hidden);
    using w = DeviceTensor.upload(weight);
    const base = { hiddenSize: d, vocabSize: v, targets: b.targets, stepIndex: b.stepIndex, numSteps: 4 };
    const out = stepLogprobFromHidden({ ...base, hidden: h, weight: w });
    expectForwardMatches({ tokenLogp: f32(out.tokenLogp), stepSum: f32(out.stepSum), lse: f32(out.lse) }, ref.logitsFromHidden(hidden, weight, d, v), b, 1e-4 + d * 1e-6);
    const gradStep = uniform(r, 4, -1, 1);
    const prior = uniform(r, v * d, -0.1, 0.1);
    using dw = DeviceTensor.upload(prior);
    const g = stepLogprobFromHiddenBackward({ ...base, hidden: h, weight: w, lse: out.lse, gradStep: DeviceTensor.upload(gradStep), dweight: dw }, { accumulateDweight: true });
    const want = ref.stepLogprobFromHiddenBackwardRef({ ...base, hidden, weight, lse: f32(out.lse), gradStep });
    expect(maxAbsDiff(f32(g.dhidden!), want.dhidden)).toBeLessThan(1e-4 * (1 + maxAbs(want.dhidden)));
    const dwHost = f32(dw);
    for (let i = 0; i < prior.length; i++) want.dweight[i] += prior[i];
    expect(maxAbsDiff(dwHost, want.dweight)).toBeLessThan(1e-4 * (1 + maxAbs(want.dweight)));
  });

  it.skipIf(skip)('reward weights and DPO margin on the device', () => {
    const r = rng(21);
    const offsets = [0, 3, 3, 10, 64];
    const rewards = uniform(r, 64, 0, 1);
    const scale = new Float32Array([0.5, -0.5, 3, -3]);
    using dr = DeviceTensor.upload(rewards);
    const { weights } = rewardWeights({ rewards: dr, offsets, scale: DeviceTensor.upload(scale) });
    expect(maxAbsDiff(f32(weights), ref.rewardWeightsRef({ rewards, offsets, scale }))).toBeLessThan(1e-6);
    const gw = uniform(r, 64, -1, 1);
    const { gradRewards } = rewardWeightsBackward({ weights, gradWeights: DeviceTensor.upload(gw), offsets, scale: 2 });
    expect(maxAbsDiff(f32(gradRewards), ref.rewardWeightsBackwardRef({ weights: f32(weights), gradWeights: gw, offsets, scale: [2, 2, 2, 2] }))).toBeLessThan(1e-6);
    const p = 1000;
    const host = { policyChosen: uniform(r, p, -90, -1), policyRejected: uniform(r, p, -90, -1), refChosen: uniform(r, p, -90, -1), refRejected: uniform(r, p, -90, -1), margin: uniform(r, p, 0, 1) };
    const dev = Object.fromEntries(Object.entries(host).map(([k, a]) => [k, DeviceTensor.upload(a)])) as unknown as Record<keyof typeof host, DeviceTensor>;
    for (const lossType of ['sigmoid', 'ipo'] as const) {
      const got = dpoMargin(dev, { beta: 0.1, labelSmoothing: 0.05, lossType, gradScale: 1 / p });
      const want = ref.dpoMarginRef({ ...host, beta: 0.1, labelSmoothing: 0.05, lossType, gradScale: 1 / p });
      expect(maxAbsDiff(f32(got.loss), want.loss)).toBeLessThan(1e-4);
      expect(maxAbsDiff(f32(got.gradChosen!), want.gradChosen)).toBeLessThan(1e-6);
      expect(got.meanLoss).toBeCloseTo(want.meanLoss, 4);
      expect(got.rewardAccuracy).toBeCloseTo(want.rewardAccuracy, 9);
      const cpu = dpoMargin(host, { beta: 0.1, labelSmoothing: 0.05, lossType, gradScale: 1 / p });
      expect(got.rewardMargin).toBeCloseTo(cpu.rewardMargin, 4);
    }
  });
});
