/** The chosen-NLL regulariser (RPO): value by hand, gradients by central differences, bad weights. */
import { describe, expect, it } from 'vitest';
import { ArgumentError, dpoLoss, pairLoss, referenceKernels, withChosenNll, type LossContext, type PairBatch } from '../src/index.js';
import { centralDiff, numbers, randomSums } from './helpers.js';

const ref = { kernels: referenceKernels };

/** The loss only reads sums, reference and the batch's completion-token counts. */
function context(policy: Float64Array, reference: Float64Array, tokens: Int32Array): LossContext {
  return { batch: { completionTokens: tokens } as unknown as PairBatch, tokenLogps: new Float64Array(0), sums: policy, reference, refTokenLogps: null };
}

describe('withChosenNll', () => {
  for (const pairs of [1, 3, 17]) {
    it(`adds w·mean(−π_c / n_c) to DPO and its gradient, ${pairs} pairs`, () => {
      const { policy, reference } = randomSums(11 + pairs, pairs);
      const r = numbers(5 + pairs);
      const tokens = Int32Array.from({ length: 2 * pairs }, () => r.int(1, 30));
      const w = 0.7;
      const loss = withChosenNll((c) => dpoLoss({ policy: c.sums, reference: c.reference }, ref), w);
      const out = loss(context(policy, reference, tokens));
      let nll = 0;
      for (let p = 0; p < pairs; p++) nll += -policy[2 * p] / tokens[2 * p] / pairs;
      const plain = dpoLoss({ policy, reference }, ref).loss;
      expect(out.loss).toBeCloseTo(plain + w * nll, 12);
      expect(out.metrics.chosenNll).toBeCloseTo(nll, 12);
      const f = (x: Float64Array) => loss(context(x, reference, tokens)).loss;
      for (let i = 0; i < 2 * pairs; i++) {
        const fd = centralDiff(f, policy, i);
        expect(Math.abs(out.gradStep![i] - fd)).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
      }
    });
  }

  it('touches only the chosen side: rejected gradients equal the inner loss', () => {
    const { policy, reference } = randomSums(3, 4);
    const tokens = Int32Array.from([5, 7, 2, 9, 4, 4, 12, 1]);
    const inner = dpoLoss({ policy, reference }, ref);
    const out = withChosenNll((c) => dpoLoss({ policy: c.sums, reference: c.reference }, ref), 2)(context(policy, reference, tokens));
    for (let p = 0; p < 4; p++) {
      expect(out.gradStep![2 * p + 1]).toBe(inner.gradStep![2 * p + 1]);
      expect(out.gradStep![2 * p]).toBeCloseTo(inner.gradStep![2 * p] - 2 / (tokens[2 * p] * 4), 12);
    }
  });

  it('weight 0 is the loss itself; a bad weight is a typed error naming it', () => {
    const base = pairLoss('dpo');
    expect(withChosenNll(base, 0)).toBe(base);
    for (const bad of [-1, Number.NaN, Infinity, '1' as unknown as number]) {
      expect(() => withChosenNll(base, bad)).toThrow(ArgumentError);
      expect(() => withChosenNll(base, bad)).toThrow(/weight/);
    }
  });
});
