// Shared-prefix packing of pair batches (src/shared-prefix.ts): the layout's invariants on random step and
// sequence pairs, and on the real engine that policy log-probs, sums and parameter gradients are those of the
// plain two-sequence packing (float64 to 1e-9, float32 to rounding) for a sum loss and a per-token loss.
import { describe, expect, it } from 'vitest';
import { ArgumentError, CharTokenizer, type PreferencePair } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { buildPairBatch, forwardPairs, pairForwardLayout, pairLoss, preferenceStep, refLogpsFromTokens, toForwardBatch, type PairBatch } from '../src/index.js';
import { numbers } from './helpers.js';

const tok = new CharTokenizer();

/** Random step pairs (prompt + 0..3 earlier steps; completions of 1..12 chars, sometimes with a common start or even equal) and sequence pairs. */
function randomPairs(seed: number, count: number): PreferencePair[] {
  const r = numbers(seed);
  const text = (lo: number, hi: number) => Array.from({ length: r.int(lo, hi) }, () => 'abcdefgh0123456789 +=\n'[r.int(0, 21)]).join('');
  return Array.from({ length: count }, (_, i): PreferencePair => {
    const prompt = text(1, 20);
    if (r.int(0, 4) === 0) {
      return { schema: 'stepwise.sequence-pair@1', problemId: `s${i}`, prompt, chosenSteps: [text(1, 8), text(1, 8)], rejectedSteps: [text(1, 8)], chosenStepRewards: [], rejectedStepRewards: [], rule: 'test' };
    }
    const common = r.int(0, 2) === 0 ? 'Step 2: ' : '';
    const chosen = common + text(1, 12);
    const rejected = r.int(0, 9) === 0 ? chosen : common + text(1, 12);
    return { schema: 'stepwise.step-pair@1', problemId: `p${i}`, prompt, prefixSteps: Array.from({ length: r.int(0, 3) }, () => text(1, 15)), chosen, rejected, chosenValue: r.uniform(0, 1), rejectedValue: r.uniform(0, 1), rule: 'test' };
  });
}

function firstScored(b: PairBatch, q: number): number {
  let x = b.seqOffsets[q];
  while (x < b.seqOffsets[q + 1] && b.stepIndex[x] < 0) x++;
  return x - b.seqOffsets[q];
}

describe('pairForwardLayout', () => {
  it('packs every position once per distinct row, shared rows masked, parents earlier (random pairs)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const b = buildPairBatch(tok, randomPairs(seed, 6));
      const l = pairForwardLayout(b);
      const f = l.forward;
      const saved = l.sharedRows.reduce((a, x) => a + x, 0);
      expect(f.tokens.length).toBe(b.inputIds.length - saved);
      const plain = toForwardBatch(b);
      for (let x = 0; x < b.inputIds.length; x++) {
        const row = l.rowOf[x];
        expect([f.tokens[row], f.targets[row], f.stepIndex[row]]).toEqual([plain.tokens[x], plain.targets[x], plain.stepIndex[x]]);
      }
      b.pairs.forEach((pair, p) => {
        const n = l.sharedRows[p];
        // Shared = masked on both sides, up to the first scored position, and never a whole side.
        expect(n).toBe(Math.min(firstScored(b, 2 * p), firstScored(b, 2 * p + 1), b.sharedPrefix[p] - (b.sharedPrefix[p] === b.seqOffsets[2 * p + 1] - b.seqOffsets[2 * p] ? 1 : 0)));
        if (pair.schema === 'stepwise.step-pair@1') expect(n).toBe(Math.min(firstScored(b, 2 * p), b.sharedPrefix[p] - 1));
        for (let i = 0; i < n; i++) expect(l.rowOf[b.seqOffsets[2 * p + 1] + i]).toBe(l.rowOf[b.seqOffsets[2 * p] + i]);
      });
      expect(f.parents!.length).toBe(f.offsets.length - 1);
      f.parents!.forEach((par, s) => expect(par).toBeLessThan(s));
      // toRows is the adjoint of toPairs: <toPairs(a), g> = <a, toRows(g)>.
      const r = numbers(seed);
      const a = Float64Array.from(f.tokens, () => r.uniform(-1, 1));
      const g = Float64Array.from(b.inputIds, () => r.uniform(-1, 1));
      const lhs = l.toPairs(a).reduce((s, v, x) => s + v * g[x], 0);
      const rhs = l.toRows(g).reduce((s, v, row) => s + v * a[row], 0);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9);
    }
  });

  it('a step pair shares its prompt and earlier steps except the last token; sharePrefix: false is the plain pack', () => {
    const pair = randomPairs(3, 1)[0];
    const step = { schema: 'stepwise.step-pair@1', problemId: 'x', prompt: 'Q: 17*3?\n', prefixSteps: ['Step 1: 17*3 = 10*3 + 7*3\n'], chosen: '= 51', rejected: '41 + 10', chosenValue: 1, rejectedValue: 0, rule: 't' } as const;
    const b = buildPairBatch(tok, [step, pair]);
    const l = pairForwardLayout(b);
    const head = 1 + step.prompt.length + step.prefixSteps[0].length; // BOS + prompt + prefix tokens
    expect(l.sharedRows[0]).toBe(head - 1);
    expect(l.forward.offsets.slice(0, 4)).toEqual(Int32Array.of(0, head - 1, head - 1 + 1 + 4, head - 1 + 2 + 4 + 7));
    expect(Array.from(l.forward.parents!.slice(0, 3))).toEqual([-1, 0, 0]);
    const off = pairForwardLayout(b, { sharePrefix: false });
    expect(off.forward.parents).toBeUndefined();
    expect(off.forward).toEqual(toForwardBatch(b));
    expect(Array.from(off.rowOf)).toEqual(Array.from(b.inputIds, (_, x) => x));
  });

  it('refuses bad options and wrong lengths by name', () => {
    const b = buildPairBatch(tok, randomPairs(5, 2));
    expect(() => pairForwardLayout(b, { sharePrefix: 'yes' as unknown as boolean })).toThrow(ArgumentError);
    const l = pairForwardLayout(b);
    expect(() => l.toPairs(new Float64Array(3))).toThrow(/rowValues/);
    expect(() => l.toRows(new Float64Array(3))).toThrow(/positionGrad/);
  });
});

describe('shared-prefix packing on the native engine', () => {
  const cfg = { vocabSize: tok.vocabSize, hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 256 };

  async function gradients(model: Model, batch: PairBatch, kind: 'step-dpo' | 'full-step-dpo', sharePrefix: boolean, refs: ReturnType<typeof refLogpsFromTokens>) {
    model.zeroGrad();
    const loss = kind === 'step-dpo' ? pairLoss('step-dpo', { beta: 0.4 }) : pairLoss('full-step-dpo');
    const r = await preferenceStep(model, batch, refs, loss, { sharePrefix });
    return { loss: r.loss, grads: model.tensors().map((t) => Float64Array.from(model.getGrad(t.name))) };
  }

  for (const [dtype, tolLogp, tolGrad] of [['float64', 1e-12, 1e-9], ['float32', 2e-5, 5e-5]] as const) {
    it(`${dtype}: log-probs, sums and gradients (sum loss and per-token loss) equal the plain pack`, async () => {
      const seed = (Date.now() >>> 0) % 100000; // fresh pairs and weights every run
      const batch = buildPairBatch(tok, randomPairs(seed, 5));
      using model = Model.create(cfg, { seed, dtype, initStd: 0.2 });
      const on = await forwardPairs(model, batch);
      const off = await forwardPairs(model, batch, { sharePrefix: false });
      expect(on.out.tokenLogp.length).toBeLessThan(off.out.tokenLogp.length);
      const logpErr = Math.max(...off.tokenLogps.map((v, x) => Math.abs(v - on.tokenLogps[x])));
      expect(logpErr, `seed ${seed}`).toBeLessThan(tolLogp);
      for (let q = 0; q < batch.completionTokens.length; q++) expect(Math.abs(off.sums[q] - on.sums[q]), `seed ${seed}`).toBeLessThan(tolLogp * 10);
      // References from a perturbed copy, so the losses are away from their symmetric starting point.
      const refs = refLogpsFromTokens(batch, Float64Array.from(off.tokenLogps, (v, x) => v + 0.05 * Math.sin(x)), true);
      for (const kind of ['step-dpo', 'full-step-dpo'] as const) {
        const a = await gradients(model, batch, kind, true, refs);
        const b = await gradients(model, batch, kind, false, refs);
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(tolLogp * 10);
        let worst = 0;
        a.grads.forEach((g, i) => {
          let d = 0, n = 0;
          g.forEach((v, j) => ((d += (v - b.grads[i][j]) ** 2), (n += b.grads[i][j] ** 2)));
          if (n > 0) worst = Math.max(worst, Math.sqrt(d / n));
        });
        expect(worst, `${kind} seed ${seed}`).toBeLessThan(tolGrad);
      }
    });
  }
});
