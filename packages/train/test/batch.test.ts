import { describe, expect, it } from 'vitest';
import { ArgumentError, CharTokenizer, type SequencePair, type StepPair, type Tokenizer } from '@stepwise/core';
import { buildPairBatch, completionSums, fullStepDpoLoss, sequenceGradToTokens, stepDpoLoss, toForwardBatch } from '../src/index.js';

const tok = new CharTokenizer();

const stepPair: StepPair = {
  schema: 'stepwise.step-pair@1',
  problemId: 'p1',
  prompt: 'Q: 17*3?\n',
  prefixSteps: ['Step 1: 17*3 = 10*3 + 7*3\n'],
  chosen: 'Step 2: = 51\n',
  rejected: 'Step 2: = 41 + 1\n',
  chosenValue: 0.934,
  rejectedValue: 0.258,
  rule: 'sppd-siblings',
};

const seqPair: SequencePair = {
  schema: 'stepwise.sequence-pair@1',
  problemId: 'p2',
  prompt: 'Q: 6+7?\n',
  chosenSteps: ['Step 1: 6+7 = 13\n', 'The answer is 13'],
  rejectedSteps: ['Step 1: 6+7 = 12\n', 'The answer is 12'],
  chosenStepRewards: [0.9, 0.8],
  rejectedStepRewards: [0.3, 0.1],
  rule: 'full-step-dpo-top-bottom',
};

/** Decodes the targets of sequence q whose stepIndex passes `keep`. */
const targetsText = (b: ReturnType<typeof buildPairBatch>, q: number, keep: (k: number) => boolean) => {
  const ids: number[] = [];
  for (let x = b.seqOffsets[q]; x < b.seqOffsets[q + 1]; x++) if (keep(b.stepIndex[x]) && b.targets[x] >= 0) ids.push(b.targets[x]);
  return tok.decode(ids);
};

describe('buildPairBatch', () => {
  it('StepPair: prompt + prefix masked, the single step is the completion, next-token targets, shared prefix', () => {
    const b = buildPairBatch(tok, [stepPair]);
    const head = stepPair.prompt + stepPair.prefixSteps[0];
    expect(Array.from(b.seqOffsets)).toEqual([0, 1 + head.length + stepPair.chosen.length, 2 + 2 * head.length + stepPair.chosen.length + stepPair.rejected.length]);
    expect(b.inputIds[0]).toBe(tok.bosId); // BOS by default (the tokenizer has one)
    expect(targetsText(b, 0, (k) => k === 0)).toBe(stepPair.chosen); // no EOS on a step
    expect(targetsText(b, 1, (k) => k === 0)).toBe(stepPair.rejected);
    expect(targetsText(b, 0, (k) => k < 0)).toBe(head); // the masked targets: prompt + prefix
    expect(b.targets[b.seqOffsets[1] - 1]).toBe(-1);
    expect(Array.from(b.completionTokens)).toEqual([stepPair.chosen.length, stepPair.rejected.length]);
    expect(Array.from(b.stepCounts)).toEqual([1, 1]);
    // "Step 2: = " is common to both steps as well, so shared = BOS + head + 10 characters
    expect(b.sharedPrefix[0]).toBe(1 + head.length + 'Step 2: = '.length);
    for (let i = 0; i < b.sharedPrefix[0]; i++) expect(b.inputIds[i]).toBe(b.inputIds[b.seqOffsets[1] + i]);
    expect(b.inputIds[b.sharedPrefix[0]]).not.toBe(b.inputIds[b.seqOffsets[1] + b.sharedPrefix[0]]);
    expect(Array.from(b.values)).toEqual([0.934, 0.258]);
    expect(b.seqId[b.seqOffsets[1]]).toBe(1);
    expect(b.positions[b.seqOffsets[1] + 3]).toBe(3);
    expect(b.tokenRewards[b.seqOffsets[1] - 2]).toBeCloseTo(0.934, 6);
  });

  it('SequencePair: per-step indices and rewards, EOS scored as part of the last step', () => {
    const b = buildPairBatch(tok, [seqPair, seqPair]);
    expect(b.sharedPrefix.length).toBe(2);
    expect(targetsText(b, 0, (k) => k === 0)).toBe(seqPair.chosenSteps[0]);
    expect(targetsText(b, 0, (k) => k === 1)).toBe(seqPair.chosenSteps[1]); // EOS decodes to ''
    const last = b.seqOffsets[1] - 2;
    expect(b.targets[last]).toBe(tok.eosId);
    expect(b.stepIndex[last]).toBe(1);
    expect(b.completionTokens[0]).toBe(seqPair.chosenSteps.join('').length + 1);
    const rewardsOf = (q: number) => new Set(Array.from(b.tokenRewards.subarray(b.seqOffsets[q], b.seqOffsets[q + 1])).map((r) => Math.round(r * 10) / 10));
    expect(rewardsOf(1)).toEqual(new Set([0, 0.3, 0.1]));
    expect(Array.from(b.stepCounts)).toEqual([2, 2, 2, 2]);
    expect(Number.isNaN(b.values[0])).toBe(true);
    const noEos = buildPairBatch(tok, [seqPair], { eos: false, bos: false });
    expect(noEos.seqOffsets[1]).toBe((seqPair.prompt + seqPair.chosenSteps.join('')).length);
  });

  it('feeds the losses: sums, gradient broadcast, Full-Step-DPO on the batch tensors', () => {
    const b = buildPairBatch(tok, [stepPair, seqPair]);
    const lp = Float64Array.from(b.inputIds, (_, x) => -0.1 - ((x * 7) % 13) / 5);
    const sums = completionSums(b, lp);
    let direct = 0;
    for (let x = b.seqOffsets[0]; x < b.seqOffsets[1]; x++) if (b.stepIndex[x] >= 0) direct += lp[x];
    expect(sums[0]).toBeCloseTo(direct, 12);
    const ref = sums.map((s, q) => s + (q % 2 ? 0.5 : -0.25));
    const r = stepDpoLoss({ policy: sums, reference: ref });
    const gTok = sequenceGradToTokens(b, r.gradStep!);
    // chain rule: Σ_x gradToken·ℓ_x = Σ_q gradStep_q·sum_q
    let a = 0;
    let c = 0;
    for (let x = 0; x < lp.length; x++) a += gTok[x] * lp[x];
    for (let q = 0; q < sums.length; q++) c += r.gradStep![q] * sums[q];
    expect(a).toBeCloseTo(c, 4);
    const fs = fullStepDpoLoss({ tokenLogps: lp, refTokenLogps: lp.map((v) => v - 0.05), tokenRewards: b.tokenRewards, mask: b.stepIndex, seqOffsets: b.seqOffsets });
    for (let x = 0; x < lp.length; x++) expect(fs.gradToken![x] === 0).toBe(b.stepIndex[x] < 0);
  });

  it('toForwardBatch: per-sequence sums line up with gradStep; per-step sums numbered sequence by sequence', () => {
    const b = buildPairBatch(tok, [seqPair, stepPair]);
    const lp = Float64Array.from(b.inputIds, (_, x) => -0.3 - (x % 5) / 4);
    const seq = toForwardBatch(b);
    expect(seq.numSteps).toBe(4);
    const sums = new Float64Array(seq.numSteps);
    seq.stepIndex.forEach((s, x) => s >= 0 && (sums[s] += lp[x]));
    Array.from(completionSums(b, lp)).forEach((v, q) => expect(sums[q]).toBeCloseTo(v, 12));
    const step = toForwardBatch(b, 'step');
    expect(Array.from(step.stepBase)).toEqual([0, 2, 4, 5, 6]);
    const x = b.seqOffsets[1] + 3; // a prompt position of sequence 1
    expect(step.stepIndex[x]).toBe(-1);
    const last = b.seqOffsets[2] - 2; // EOS target of sequence 1: its step 1
    expect(step.stepIndex[last]).toBe(3);
  });

  /** A toy BPE-like tokenizer with two merges, "aab" and "ab" (longest first), to exercise boundary merges. */
  const MERGES = ['aab', 'ab'];
  const merging: Tokenizer = {
    name: 'toy-merge',
    vocabSize: 200,
    bosId: null,
    eosId: null,
    padId: null,
    encode: (t) => merging.encodeWithOffsets!(t).ids,
    decode: (ids) => ids.map((i) => (i >= 198 ? MERGES[i - 198] : String.fromCharCode(i))).join(''),
    encodeWithOffsets(t) {
      const ids: number[] = [];
      const offsets: [number, number][] = [];
      for (let i = 0; i < t.length; ) {
        const m = MERGES.findIndex((w) => t.startsWith(w, i));
        const len = m < 0 ? 1 : MERGES[m].length;
        ids.push(m < 0 ? t.charCodeAt(i) : 198 + m);
        offsets.push([i, i + len]);
        i += len;
      }
      return { ids, offsets };
    },
  };

  it('joint tokenisation: a token merged across the prefix boundary counts as completion (Step-DPO)', () => {
    const pair: StepPair = { ...stepPair, prompt: 'Q: xa', prefixSteps: [], chosen: 'bc', rejected: 'cc' };
    const b = buildPairBatch(merging, [pair]);
    expect(Array.from(b.completionTokens)).toEqual([2, 2]); // "ab","c" vs "c","c"
    expect(b.sharedPrefix[0]).toBe(4); // "Q: x" then "ab" vs "a"
    // Tokenising prompt and steps separately keeps the exact boundary instead.
    expect(Array.from(buildPairBatch(merging, [pair], { mode: 'separate' }).completionTokens)).toEqual([2, 2]);
  });

  it('typed errors name the pair and the argument', () => {
    const expectArg = (f: () => unknown, arg: string) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ArgumentError);
      expect((err as ArgumentError).argument).toBe(arg);
    };
    expectArg(() => buildPairBatch(tok, [{ ...stepPair, prompt: '', prefixSteps: [] }], { bos: false }), 'pairs[0].prompt');
    expectArg(() => buildPairBatch(tok, [stepPair, { ...seqPair, chosenStepRewards: [0.5] }]), 'pairs[1].chosenStepRewards');
    expectArg(() => buildPairBatch(tok, [stepPair], { maxLength: 20 }), 'pairs[0]');
    expectArg(() => buildPairBatch(tok, [stepPair, { ...stepPair, schema: 'stepwise.pair@0' } as unknown as StepPair]), 'pairs[1].schema');
    expectArg(() => buildPairBatch(tok, [stepPair], { maxLength: 0 }), 'options.maxLength');
    expectArg(() => completionSums(buildPairBatch(tok, [stepPair]), [-1, -2]), 'tokenLogps');
    expectArg(() => buildPairBatch(tok, [stepPair], { eos: true, bos: false, mode: 'sideways' as 'joint' }), 'options.mode');
  });

  it('Step-DPO rule: prompt tokenisations differing by more than one token are refused', () => {
    // "xa|bc": the merge "ab" moves one prompt character into the completion — allowed.
    expect(() => buildPairBatch(merging, [{ ...stepPair, prompt: 'Q: xa', prefixSteps: [], chosen: 'bc', rejected: 'cc' }])).not.toThrow();
    // "xaa|bc": the merge "aab" takes two prompt tokens ("a","a") into the completion — refused.
    const pair: StepPair = { ...stepPair, prompt: 'Q: xaa', prefixSteps: [], chosen: 'bc', rejected: 'cc' };
    expect(() => buildPairBatch(merging, [pair])).toThrow(/within one token/);
    expect(() => buildPairBatch(merging, [pair], { mode: 'separate' })).not.toThrow();
  });
});
