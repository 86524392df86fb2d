import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { SequencePair, StepPair } from '@stepwise/core';
import {
  FormatError,
  STEP_DPO_HEADER,
  fromFullStepDpo,
  fromMathShepherd,
  fromStepDpo,
  fromTrlPreference,
  fromTrlStepwise,
  fullStepDpoPairs,
  oracleStepLabelled,
  parseConcatenatedJson,
  testSplit,
  toFullStepDpo,
  toMathShepherd,
  toStepDpo,
  toTrlPreference,
  toTrlStepwise,
} from '../src/index.js';

const stepPair: StepPair = {
  schema: 'stepwise.step-pair@1',
  problemId: 'arith-v1/test/L2/0',
  prompt: 'Sam has 12 pens. Sam gets 3. Sam loses 5. How many pens now?\n',
  prefixSteps: ['Step 1: 12 + 3 = 15'],
  chosen: 'Step 2: 15 - 5 = 10',
  rejected: 'Step 2: 15 - 3 = 12',
  chosenValue: 0.9,
  rejectedValue: null,
  rule: 'sppd-siblings',
};
const seqPair: SequencePair = {
  schema: 'stepwise.sequence-pair@1',
  problemId: 'p1',
  prompt: 'Q\n',
  chosenSteps: ['Step 1: 1 + 1 = 2', 'The answer is 2'],
  rejectedSteps: ['Step 1: 1 + 1 = 3', 'The answer is 3'],
  chosenStepRewards: [0.8, 0.9],
  rejectedStepRewards: [0.4, 0.1],
  rule: 'dpo',
};

function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe('TRL preference', () => {
  it('writes step pairs with the prefix in the prompt and converts back exactly with extras', () => {
    const rec = toTrlPreference(stepPair);
    expect(rec.prompt).toBe(`${stepPair.prompt}Step 1: 12 + 3 = 15\n`);
    expect([rec.chosen, rec.rejected]).toEqual([stepPair.chosen, stepPair.rejected]);
    expect(fromTrlPreference(JSON.parse(JSON.stringify(rec)))).toEqual(stepPair);
    const seq = toTrlPreference(seqPair);
    expect(seq.chosen).toBe('Step 1: 1 + 1 = 2\nThe answer is 2');
    expect(fromTrlPreference(seq)).toEqual(seqPair);
  });

  it('round-trips plain hand-made records (no extras) in both readings', () => {
    const plain = { prompt: 'What is 2+2?\n', chosen: 'Step 1: 2 + 2 = 4\nThe answer is 4', rejected: 'Step 1: 2 + 2 = 5\nThe answer is 5' };
    const seq = fromTrlPreference(plain) as SequencePair;
    expect(seq.chosenSteps).toEqual(['Step 1: 2 + 2 = 4', 'The answer is 4']);
    expect(toTrlPreference(seq, { extras: false })).toEqual(plain);
    const step = fromTrlPreference(plain, { as: 'step', problemId: 'q' }) as StepPair;
    expect(step.prefixSteps).toEqual([]);
    expect(toTrlPreference(step, { extras: false })).toEqual(plain);
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (prompt, chosen, rejected) => {
        const r = { prompt, chosen, rejected };
        expect(toTrlPreference(fromTrlPreference(r), { extras: false })).toEqual(r);
      }),
    );
  });

  it('names the field of malformed records', () => {
    expect(formatError(() => fromTrlPreference({ prompt: 'p', chosen: 1, rejected: 'r' }, {}, { file: 't.jsonl', line: 9 }))).toMatchObject({
      file: 't.jsonl', line: 9, field: 'chosen',
    });
    const edited = { ...toTrlPreference(stepPair), prompt: 'changed' };
    expect(formatError(() => fromTrlPreference(edited)).field).toBe('prompt');
    expect(formatError(() => fromTrlPreference({ ...toTrlPreference(seqPair), stepwise_schema: 'x@9' })).field).toBe('stepwise_schema');
    expect(() => toTrlPreference({ schema: 'nope' } as unknown as StepPair)).toThrow(/pair\.schema/);
  });
});

describe('TRL stepwise supervision', () => {
  it('round-trips and checks label counts', () => {
    const rec = { prompt: 'Q', completions: ['a', 'b'], labels: [true, false] };
    expect(toTrlStepwise(fromTrlStepwise(rec))).toEqual(rec);
    expect(formatError(() => fromTrlStepwise({ ...rec, labels: [true] })).field).toBe('labels');
    expect(formatError(() => fromTrlStepwise({ ...rec, labels: [1, 0] })).field).toBe('labels[0]');
  });

  it('exports oracle labels for arith-v1 solutions', () => {
    const p = testSplit(2, 1)[0];
    const steps = [...p.solutionSteps!];
    steps[1] = steps[1].replace(/= (\d+)$/, (_, c) => `= ${Number(c) + 1}`);
    const sol = oracleStepLabelled(p, steps);
    expect(sol.labels).toEqual(steps.map((_, i) => i < 1));
    expect(toTrlStepwise(sol).labels).toEqual(sol.labels);
    expect(fromMathShepherd(toMathShepherd(sol))).toMatchObject({ steps: sol.steps, labels: sol.labels });
  });
});

describe('Step-DPO', () => {
  const rec = {
    dataset: 'arith',
    prompt: 'Sam has 12 pens. Sam gets 3. Sam loses 5. How many pens now?',
    initial_reason_steps: `${STEP_DPO_HEADER}Step 1: 12 + 3 = 15\nStep 2:`,
    chosen: ' 15 - 5 = 10',
    rejected: ' 15 - 3 = 12',
    full_chosen: ' 15 - 5 = 10\nThe answer is 10',
    full_rejected: ' 15 - 3 = 12\nThe answer is 12',
    answer: '10',
  };

  it('moves the dangling "Step k:" label into the pair and back', () => {
    const { pair, extras } = fromStepDpo(rec, 'q1');
    expect(pair.prefixSteps).toEqual(['Step 1: 12 + 3 = 15']);
    expect(pair.chosen).toBe('Step 2: 15 - 5 = 10');
    expect(extras).toMatchObject({ dataset: 'arith', answer: '10', labelInPrefix: true, header: STEP_DPO_HEADER });
    expect(toStepDpo(pair, extras)).toEqual(rec);
  });

  it('round-trips first-step pairs, records without header or dataset, and multi-line steps', () => {
    const cases = [
      { ...rec, initial_reason_steps: `${STEP_DPO_HEADER}Step 1:` },
      { ...rec, dataset: undefined, initial_reason_steps: 'Step 1: a\nb\n\nStep 2: c\nStep 3:' },
      { ...rec, initial_reason_steps: 'Some free text\nwithout labels' },
    ].map((r) => JSON.parse(JSON.stringify(r)));
    for (const r of cases) {
      const { pair, extras } = fromStepDpo(r);
      expect(toStepDpo(pair, extras)).toEqual(r);
    }
    expect(fromStepDpo(cases[1]).pair.prefixSteps).toEqual(['Step 1: a\nb\n', 'Step 2: c']);
    expect(fromStepDpo(cases[0]).pair.prefixSteps).toEqual([]);
  });

  it('writes a StepPair with default header and derived full continuations', () => {
    const out = toStepDpo(fromStepDpo(rec).pair, { answer: '10' });
    const { dataset: _dataset, ...withoutDataset } = rec;
    expect(out).toStrictEqual({ ...withoutDataset, full_chosen: rec.chosen, full_rejected: rec.rejected });
  });

  it('names missing fields', () => {
    const { full_rejected: _, ...missing } = rec;
    expect(formatError(() => fromStepDpo(missing, '', { file: 's.jsonl', line: 2 }))).toMatchObject({ line: 2, field: 'full_rejected' });
    expect(() => toStepDpo(fromStepDpo(rec).pair, { answer: 3 as unknown as string })).toThrow(/extras\.answer/);
  });
});

describe('Full-Step-DPO', () => {
  const rec = {
    prompt: 'Q: 1+1?\n',
    responses: ['Step 1: 1 + 1 = 2\nThe answer is 2', 'Step 1: 1 + 1 = 3\nStep 2: 3 * 1 = 3\nThe answer is 3', 'Step 1: 1 + 1 = 2\nThe answer is 2'],
    rewards: [1, 0, 1],
    rewards_list: [[0.9], [0.3, 0.2], [0.8]],
    gold_answer: '2',
  };

  it('round-trips a record and forms the trainer pairs (rewards_i > rewards_j)', () => {
    const g = fromFullStepDpo(rec, { problemId: 'q' });
    expect(g.responses[1]).toEqual(['Step 1: 1 + 1 = 3', 'Step 2: 3 * 1 = 3\nThe answer is 3']);
    expect(toFullStepDpo(g)).toEqual(rec);
    const pairs = fullStepDpoPairs(g);
    expect(pairs.map((p) => [p.chosenStepRewards, p.rejectedStepRewards])).toEqual([
      [[0.9], [0.3, 0.2]],
      [[0.8], [0.3, 0.2]],
    ]);
    // A JSON-array file of records reads back record by record.
    const arr = parseConcatenatedJson(JSON.stringify([rec, rec], null, 2), 'f.json');
    expect(arr.map((x) => toFullStepDpo(fromFullStepDpo(x.value)))).toEqual([rec, rec]);
  });

  it('checks per-step reward counts unless told not to', () => {
    const bad = { ...rec, rewards_list: [[0.9], [0.3], [0.8]] };
    expect(formatError(() => fromFullStepDpo(bad, {}, { file: 'f.json', line: 3 }))).toMatchObject({ line: 3, field: 'rewards_list[1]' });
    expect(fromFullStepDpo(bad, { strict: false }).stepRewards[1]).toEqual([0.3]);
    expect(formatError(() => fromFullStepDpo({ ...rec, rewards: [1, 0] })).field).toBe('rewards');
    expect(formatError(() => fromFullStepDpo({ ...rec, rewards: [1, 'x', 0] })).field).toBe('rewards[1]');
  });
});
