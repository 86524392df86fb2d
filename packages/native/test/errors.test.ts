// Bad input: the typed API throws the typed errors naming the argument, and the raw binding rejects garbage
// with TypeError/RangeError instead of crashing (vitest runs this file in its own process: a crash fails it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  ArgumentError,
  BackendUnavailableError,
  Bf16Array,
  DeviceTensor,
  backends,
  dpoMargin,
  loadBinding,
  rewardWeights,
  stepLogprob,
  stepLogprobAsync,
  stepLogprobBackward,
  stepLogprobFromHidden,
} from '../src/index.js';

const logits = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3);
const ok = { logits, vocabSize: 4, targets: new Int32Array([1, 3, -1]), stepIndex: new Int32Array([0, 1, -1]), numSteps: 2 };

function detached(): Float32Array {
  const a = new Float32Array(12).fill(1);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

function expectArg(fn: () => unknown, argument: string | RegExp, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    expect((e as ArgumentError).argument).toMatch(argument);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  expect.fail('expected an ArgumentError');
}

describe('typed API: ArgumentError naming the argument', () => {
  it('wrong types and dtypes', () => {
    expectArg(() => stepLogprob({ ...ok, logits: Array.from(logits) as never }), 'logits', /Float32Array or Bf16Array/);
    expectArg(() => stepLogprob({ ...ok, logits: new Float64Array(12) as never }), 'logits');
    expectArg(() => stepLogprob({ ...ok, logits: new Uint16Array(12) as never }), 'logits'); // bf16 must be tagged
    expectArg(() => stepLogprob({ ...ok, targets: new Float32Array(3) as never }), 'targets', /Int32Array/);
    expectArg(() => stepLogprob({ ...ok, vocabSize: '4' as never }), 'vocabSize');
    expectArg(() => stepLogprob(ok, { exact: 1 as never }), 'options.exact');
    expectArg(() => stepLogprob(ok, { exat: true } as never), 'options.exat', /known keys/);
    expectArg(() => stepLogprobFromHidden({ hidden: new Float32Array(6), weight: Bf16Array.from([1, 2, 3, 4]) as never, hiddenSize: 2, vocabSize: 2, targets: new Int32Array(3) }), 'weight', /same dtype/);
  });

  it('wrong lengths and non-integer sizes', () => {
    expectArg(() => stepLogprob({ ...ok, logits: new Float32Array(11) }), 'logits', /length 12/);
    expectArg(() => stepLogprob({ ...ok, vocabSize: 0 }), 'vocabSize');
    expectArg(() => stepLogprob({ ...ok, vocabSize: 2.5 }), 'vocabSize');
    expectArg(() => stepLogprob({ ...ok, numSteps: -1 }), 'numSteps');
    expectArg(() => stepLogprob({ ...ok, stepIndex: new Int32Array(2) }), 'stepIndex', /length 3/);
    expectArg(() => stepLogprob({ ...ok, stepIndex: undefined }), 'stepIndex', /numSteps > 0/);
    expectArg(() => stepLogprob({ ...ok, logits: detached() }), 'logits', /detached/);
    expectArg(() => stepLogprobBackward({ ...ok, lse: new Float32Array(2) }), 'lse');
  });

  it('index ranges: targets in [0, V) or negative; steps in [−1, S); ignored tokens must have step −1', () => {
    expectArg(() => stepLogprob({ ...ok, targets: new Int32Array([1, 4, -1]) }), 'targets[1]', /vocabSize = 4/);
    expectArg(() => stepLogprob({ ...ok, stepIndex: new Int32Array([0, 2, -1]) }), 'stepIndex[1]', /numSteps = 2/);
    expectArg(() => stepLogprob({ ...ok, stepIndex: new Int32Array([0, -2, -1]) }), 'stepIndex[1]');
    expectArg(() => stepLogprob({ ...ok, stepIndex: new Int32Array([0, 1, 1]) }), 'stepIndex[2]', /ignored/);
  });

  it('values: NaN and +Infinity in logits rejected, −Infinity allowed; a fully −inf row needs an ignored target', () => {
    for (const bad of [NaN, Infinity]) {
      const z = Float32Array.from(logits);
      z[5] = bad;
      expectArg(() => stepLogprob({ ...ok, logits: z }), 'logits', /row 1, column 1/);
      expectArg(() => stepLogprob({ ...ok, logits: Bf16Array.from(z) }), 'logits');
    }
    const z = Float32Array.from(logits);
    z[2] = -Infinity;
    expect(Number.isFinite(stepLogprob({ ...ok, logits: z }).tokenLogp[0])).toBe(true);
    z.fill(-Infinity, 8, 12); // row 2: its target is ignored, so allowed
    expect(stepLogprob({ ...ok, logits: z }).tokenLogp[2]).toBe(0);
    z.fill(-Infinity, 4, 8); // row 1: target 3 is not ignored
    expectArg(() => stepLogprob({ ...ok, logits: z }), 'logits', /entirely -Infinity/);
    expectArg(() => stepLogprobBackward({ ...ok, lse: new Float32Array(3), gradToken: new Float32Array([0, NaN, 0]) }), 'gradToken[1]');
  });

  it('async calls reject with the same typed errors', async () => {
    let pending: Promise<unknown> | undefined;
    expect(() => (pending = stepLogprobAsync({ ...ok, targets: new Int32Array([9, 0, 0]) }))).not.toThrow();
    await expect(pending).rejects.toBeInstanceOf(ArgumentError);
    const z = Float32Array.from(logits);
    z[0] = NaN; // found by the scan inside the job, off the JS thread
    await expect(stepLogprobAsync({ ...ok, logits: z })).rejects.toThrow(/NaN at row 0, column 0/);
  });

  it('reward weights and DPO arguments', () => {
    const rewards = new Float32Array([0.1, 0.5, 0.9]);
    expectArg(() => rewardWeights({ rewards, offsets: [0, 2, 1, 3], scale: 1 }), 'offsets[2]', /non-decreasing/);
    expectArg(() => rewardWeights({ rewards, offsets: [1, 3], scale: 1 }), 'offsets[0]');
    expectArg(() => rewardWeights({ rewards, offsets: [0, 2], scale: 1 }), 'offsets[1]', /total length 3/);
    expectArg(() => rewardWeights({ rewards, offsets: [0, 1.5, 3], scale: 1 }), 'offsets[1]');
    expectArg(() => rewardWeights({ rewards, offsets: [0, 3], scale: new Float32Array(2) }), 'scale');
    expectArg(() => rewardWeights({ rewards: new Float32Array([0, NaN]), offsets: [0, 2], scale: 1 }), 'rewards[1]');
    const p = new Float32Array([-1, -2]);
    const dpo = { policyChosen: p, policyRejected: p, refChosen: p, refRejected: p };
    expectArg(() => dpoMargin({ ...dpo, refRejected: new Float32Array(3) }), 'refRejected');
    expectArg(() => dpoMargin(dpo, { beta: 0 }), 'options.beta');
    expectArg(() => dpoMargin(dpo, { labelSmoothing: 0.7 }), 'options.labelSmoothing');
    expectArg(() => dpoMargin(dpo, { lossType: 'hinge' as never }), 'options.lossType');
    expectArg(() => dpoMargin({ ...dpo, margin: new Float32Array([0, Infinity]) }), 'margin[1]');
  });

  it('DeviceTensor without CUDA: BackendUnavailableError with the reason', () => {
    if (backends().cuda.usable) return console.log('CUDA is usable here; the unavailable path is not reachable');
    expect(() => DeviceTensor.upload(logits)).toThrow(BackendUnavailableError);
    expect(() => DeviceTensor.upload(logits)).toThrow(/not usable here: .+/);
    expect(() => DeviceTensor.empty('f32', 4)).toThrow(BackendUnavailableError);
  });
});

describe('raw binding: garbage is rejected by the C++ layer, never a crash', () => {
  const raw = loadBinding();
  const valid: Record<string, () => Record<string, unknown>> = {
    stepLogprobForward: () => ({ logits: new Float32Array(12), n: 3, v: 4, targets: new Int32Array([0, 1, -1]), stepIndex: new Int32Array([0, 0, -1]), numSteps: 1, wantEntropy: true }),
    stepLogprobBackward: () => ({ logits: new Uint16Array(12), dtype: 'bf16', n: 3, v: 4, targets: new Int32Array([0, 1, 2]), lse: new Float32Array(3), gradToken: new Float32Array(3) }),
    stepLogprobHiddenForward: () => ({ hidden: new Float32Array(6), weight: new Float32Array(8), n: 3, d: 2, v: 4, targets: new Int32Array([0, 1, 3]) }),
    stepLogprobHiddenBackward: () => ({ hidden: new Float32Array(6), weight: new Float32Array(8), n: 3, d: 2, v: 4, targets: new Int32Array([0, 1, 3]), lse: new Float32Array(3) }),
    rewardWeightsForward: () => ({ rewards: new Float32Array(3), offsets: new BigInt64Array([0n, 1n, 3n]), scale: new Float32Array(2) }),
    rewardWeightsBackward: () => ({ weights: new Float32Array(3), gradWeights: new Float32Array(3), offsets: new BigInt64Array([0n, 3n]), scale: new Float32Array(1) }),
    dpoMargin: () => ({ policyChosen: new Float32Array(2), policyRejected: new Float32Array(2), refChosen: new Float32Array(2), refRejected: new Float32Array(2) }),
  };
  const garbage = fc.oneof(
    fc.constantFrom<unknown>(undefined, null, NaN, -1, 1.5, 2 ** 40, -(2 ** 40), '', 'bf16', 'device', true, {}, [], 0n, Symbol('x')),
    fc.constantFrom(Float32Array, Float64Array, Int32Array, Uint16Array, BigInt64Array, Uint8Array).chain((C) =>
      fc.integer({ min: 0, max: 40 }).map((n) => (C === BigInt64Array ? new BigInt64Array(n) : new (C as Float32ArrayConstructor)(n))),
    ),
    fc.constant(detached()),
    fc.anything(),
  );
  const keys = ['logits', 'hidden', 'weight', 'targets', 'stepIndex', 'n', 'v', 'd', 'numSteps', 'dtype', 'lse', 'gradToken', 'gradStep', 'rewards', 'offsets', 'scale', 'weights', 'gradWeights', 'policyChosen', 'margin', 'beta', 'lossType', 'location', 'tokenLogp', 'dlogits', 'dweight', 'exact', 'inPlace', 'chunkRows'];

  for (const name of Object.keys(valid)) {
    it(`${name}: the valid call works, and one garbage field throws TypeError/RangeError or still works`, () => {
      expect(typeof raw[name](valid[name]())).toBe('object');
      fc.assert(
        fc.property(fc.constantFrom(...keys), garbage, (key, value) => {
          const args = { ...valid[name](), [key]: value };
          try {
            const r = raw[name](args);
            expect(typeof r).toBe('object');
          } catch (e) {
            expect(e instanceof TypeError || e instanceof RangeError, `${name}.${key}: ${String(e)}`).toBe(true);
          }
        }),
        { numRuns: 150 },
      );
    });
  }

  it('non-object arguments and wrong index data', () => {
    for (const bad of [undefined, 3, 'x', new Float32Array(2), [1, 2]]) expect(() => raw.stepLogprobForward(bad)).toThrow(TypeError);
    const v = valid.stepLogprobForward();
    expect(() => raw.stepLogprobForward({ ...v, targets: new Int32Array([0, 4, 0]) })).toThrow(RangeError);
    expect(() => raw.stepLogprobForward({ ...v, stepIndex: new Int32Array([0, 7, -1]) })).toThrow(/stepIndex/);
    expect(() => raw.rewardWeightsForward({ ...valid.rewardWeightsForward(), offsets: new BigInt64Array([0n, 5n, 3n]) })).toThrow(/non-decreasing/);
    expect(() => raw.stepLogprobForward({ ...v, n: 2 ** 31 + 1, v: 2 ** 31 - 1 })).toThrow(RangeError);
    expect(() => raw.stepLogprobForward({ ...v, location: 'device' })).toThrow(/DeviceTensor/);
    expect(() => raw.DeviceTensor({ dtype: 'f32', length: 1 })).toThrow(); // called without new
    const look = { dtype: 'f32', length: 12, disposed: false };
    expect(() => raw.stepLogprobForward({ ...v, location: 'device', logits: look })).toThrow(TypeError); // a look-alike is no tensor
  });
});
