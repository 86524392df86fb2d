/**
 * End to end on a toy model: batch → reference cache → forward → loss → backward → SGD. The model is a
 * float64 bigram table (logits of the next token = a row chosen by the input token) with exact gradients,
 * shaped like the engine's Model; training must move each loss's own monitor the right way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CharTokenizer, type PreferencePair, type SequencePair, type StepPair } from '@stepwise/core';
import { buildPairBatch, pairLoss, preferenceStep, RefLogpCache, refLogpsFromTokens, toForwardBatch, type ForwardBatch, type PairLoss } from '../src/index.js';
import { numbers } from './helpers.js';

const tok = new CharTokenizer();
const V = tok.vocabSize;

interface BigramOut {
  tokenLogp: Float64Array;
  stepSum: Float64Array;
  batch: ForwardBatch;
}

class Bigram {
  readonly w: Float64Array;
  private grad: Float64Array;
  constructor(seed: number) {
    const r = numbers(seed);
    this.w = Float64Array.from({ length: V * V }, () => r.uniform(-0.5, 0.5));
    this.grad = new Float64Array(V * V);
  }
  private probs(row: number) {
    const z = this.w.subarray(row * V, row * V + V);
    const m = Math.max(...z);
    const e = Array.from(z, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }
  async forward(b: ForwardBatch): Promise<BigramOut> {
    const tokenLogp = new Float64Array(b.tokens.length);
    const stepSum = new Float64Array(b.numSteps);
    for (let x = 0; x < b.tokens.length; x++) {
      if (b.targets[x] < 0) continue;
      tokenLogp[x] = Math.log(this.probs(b.tokens[x])[b.targets[x]]);
      if (b.stepIndex[x] >= 0) stepSum[b.stepIndex[x]] += tokenLogp[x];
    }
    return { tokenLogp, stepSum, batch: b };
  }
  async backward(out: BigramOut, g: { gradToken?: ArrayLike<number>; gradStep?: ArrayLike<number> }) {
    const b = out.batch;
    for (let x = 0; x < b.tokens.length; x++) {
      if (b.targets[x] < 0) continue;
      const gx = (g.gradToken?.[x] ?? 0) + (b.stepIndex[x] >= 0 && g.gradStep ? g.gradStep[b.stepIndex[x]] : 0);
      if (gx === 0) continue;
      const p = this.probs(b.tokens[x]);
      for (let v = 0; v < V; v++) this.grad[b.tokens[x] * V + v] += gx * ((v === b.targets[x] ? 1 : 0) - p[v]);
    }
  }
  sgd(lr: number) {
    for (let i = 0; i < this.w.length; i++) this.w[i] -= lr * this.grad[i];
    this.grad.fill(0);
  }
}

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function train(pairs: PreferencePair[], loss: PairLoss, steps: number, lr: number) {
  const dir = await mkdtemp(join(tmpdir(), 'stepwise-step-'));
  dirs.push(dir);
  const model = new Bigram(5);
  const reference = new Bigram(5); // π_ref = the initial policy, frozen
  let refForwards = 0;
  const cache = await RefLogpCache.open(join(dir, 'ref.jsonl'), { context: 'bigram-seed5', perToken: true });
  const compute = async (todo: readonly PreferencePair[]) => {
    refForwards++;
    const b = buildPairBatch(tok, todo);
    return refLogpsFromTokens(b, (await reference.forward(toForwardBatch(b))).tokenLogp, true);
  };
  const batch = buildPairBatch(tok, pairs);
  const history = [];
  for (let s = 0; s < steps; s++) {
    const refs = await cache.ensure(pairs, compute);
    history.push(await preferenceStep(model, batch, refs, loss));
    model.sgd(lr);
  }
  await cache.close();
  if (process.env.STEPWISE_TRAIN_DEBUG) console.log(history.map((h) => [h.loss.toFixed(4), JSON.stringify(h.metrics)]).filter((_, i) => i === 0 || i === steps - 1));
  return { history, refForwards };
}

const stepPairs: StepPair[] = [
  ['Q: 17*3?\n', 'Step 1: = 51\n', 'Step 1: = 41\n'],
  ['Q: 9*9?\n', 'Step 1: = 81\n', 'Step 1: = 72\n'],
  ['Q: 6+7?\n', 'Step 1: = 13\n', 'Step 1: = 12\n'],
].map(([prompt, chosen, rejected], i) => ({ schema: 'stepwise.step-pair@1', problemId: `p${i}`, prompt, prefixSteps: ['Let us compute.\n'], chosen, rejected, chosenValue: 0.9, rejectedValue: 0.2, rule: 'test' }));

describe('preferenceStep on a toy model', () => {
  it('Step-DPO: loss falls, reward margin rises, reference computed once for all steps', async () => {
    const { history, refForwards } = await train(stepPairs, pairLoss('step-dpo'), 25, 2);
    expect(refForwards).toBe(1);
    expect(history[0].metrics.rewardMargin).toBeCloseTo(0, 6); // π = π_ref at the first step
    expect(history.at(-1)!.loss).toBeLessThan(history[0].loss - 0.2);
    expect(history.at(-1)!.metrics.rewardAccuracy).toBe(1);
  });

  it('SPPD and IPO train through the same step', async () => {
    const sppd = (await train(stepPairs, pairLoss('sppd', { gamma: 1 }), 25, 4)).history;
    expect(sppd.at(-1)!.loss).toBeLessThan(sppd[0].loss);
    expect(sppd[0].metrics.meanMargin).toBeCloseTo(0.7, 6);
    const ipo = (await train(stepPairs, pairLoss('ipo', { beta: 0.5 }), 25, 0.5)).history;
    expect(ipo.at(-1)!.loss).toBeLessThan(ipo[0].loss);
  });

  it('Full-Step-DPO (per-token reference) and SFT on the chosen side', async () => {
    const seq: SequencePair[] = stepPairs.map((p) => ({
      schema: 'stepwise.sequence-pair@1',
      problemId: p.problemId,
      prompt: p.prompt,
      chosenSteps: [...p.prefixSteps, p.chosen],
      rejectedSteps: [...p.prefixSteps, p.rejected],
      chosenStepRewards: [0.8, 0.9],
      rejectedStepRewards: [0.7, 0.1],
      rule: 'test',
    }));
    const fs = (await train(seq, pairLoss('full-step-dpo'), 25, 20)).history;
    expect(fs.at(-1)!.metrics.rewardMargin).toBeGreaterThan(fs[0].metrics.rewardMargin + 0.05);
    expect(fs.at(-1)!.metrics.dpoLoss).toBeLessThan(fs[0].metrics.dpoLoss);
    const sft = (await train(seq, pairLoss('sft-chosen'), 10, 2)).history;
    expect(sft.at(-1)!.loss).toBeLessThan(sft[0].loss - 0.1);
  });
});
