import { describe, expect, it } from 'vitest';

import {
  ExternalPrmScorer,
  MonteCarloScorer,
  OutcomeLabelScorer,
  ScriptedPolicy,
  SearchConfigError,
  aggregate,
  answerJudge,
  prunedSearch,
  sampleSolutions,
  scoreTreeNodes,
  stepBeamSearch,
  type StepScorer,
} from '../src/index.js';
import { judge, problem, step } from './fixtures.js';

// A PRM that likes steps containing "good" and dislikes "bad"; its value of a prefix is that of the last step.
const prm: StepScorer = {
  name: 'test-prm',
  score: async (_p, steps) => steps.map((s) => (s.includes('good') ? 0.9 : s.includes('bad') ? 0.1 : 0.5)),
};

const branchy = () =>
  new ScriptedPolicy((steps) =>
    steps.length === 0
      ? [step('ok', [-1]), step('good 1', [-1]), step('bad 1', [-1])]
      : [step('bad: The answer is 41', [-1], true), step('good: The answer is 42', [-1], true), step('meh: The answer is 40', [-1], true)],
  );

describe('SPHERE max/min pruned search', () => {
  it('follows the highest-valued candidate for Sol_max and the lowest for Sol_min', async () => {
    const max = await prunedSearch(problem, branchy(), prm, judge, 'max', { candidates: 3 });
    const min = await prunedSearch(problem, branchy(), prm, judge, 'min', { candidates: 3 });
    expect(max.steps).toEqual(['good 1', 'good: The answer is 42']);
    expect(max.correct).toBe(true);
    expect(min.steps).toEqual(['bad 1', 'bad: The answer is 41']);
    expect(min.correct).toBe(false);
    expect(max.values).toEqual([0.9, 0.9]);
  });

  it('with advantage rewards ranks by the change in value', async () => {
    // After "good 1" (0.9), every terminal candidate lowers or keeps the value; advantage = v − 0.9.
    const max = await prunedSearch(problem, branchy(), prm, judge, 'max', { candidates: 3, reward: 'advantage' });
    expect(max.steps[1]).toBe('good: The answer is 42');
  });
});

describe('step beam search', () => {
  it('keeps the top-valued candidates and returns finished answers sorted by value', async () => {
    const sols = await stepBeamSearch(problem, branchy(), prm, judge, { beamWidth: 2, samplesPerNode: 3 });
    expect(sols.length).toBe(2);
    expect(sols[0].answer).toBe('42');
    expect(sols[0].value).toBeGreaterThanOrEqual(sols[1].value);
    await expect(stepBeamSearch(problem, branchy(), prm, judge, { beamWidth: 0 })).rejects.toThrow(SearchConfigError);
  });
});

describe('best-of-N sampling and aggregation', () => {
  it('samples N solutions together, one policy call per depth', async () => {
    const policy = branchy();
    const sols = await sampleSolutions(problem, policy, judge, 6, { seed: 1 });
    expect(sols).toHaveLength(6);
    expect(policy.calls).toBe(2);
    expect(sols.every((s) => s.finished && s.steps.length === 2)).toBe(true);
    // The script cycles candidates per prefix: first steps ok, good 1, bad 1, ok, …; each prefix's second call
    // gets its next terminal step.
    expect(sols.map((s) => s.steps[0])).toEqual(['ok', 'good 1', 'bad 1', 'ok', 'good 1', 'bad 1']);
    expect(sols.map((s) => s.answer)).toEqual(['41', '41', '41', '42', '42', '42']);
  });

  const cands = [
    { answer: '41', orm: 0.2, stepValues: [0.9, 0.2] },
    { answer: '42', orm: 0.9, stepValues: [0.6, 0.7] },
    { answer: '41.0', orm: 0.3, stepValues: [0.5, 0.9] },
    { answer: null, orm: 1, stepValues: [1, 1] },
  ];

  it('MAJ clusters answers with the grader; ORM vote sums, ORM max takes the best single score', () => {
    expect(aggregate(cands, 'maj', judge.same)).toBe('41'); // 41 and 41.0 are one cluster
    expect(aggregate(cands, 'orm-vote', judge.same)).toBe('42'); // 0.9 > 0.2 + 0.3
    expect(aggregate(cands, 'orm-max', judge.same)).toBe('42');
  });

  it('PRM variants score a solution by its minimum or last step value', () => {
    expect(aggregate(cands, 'prm-min-max', judge.same)).toBe('42'); // mins: 0.2, 0.6, 0.5
    expect(aggregate(cands, 'prm-last-max', judge.same)).toBe('41'); // lasts: 0.2, 0.7, 0.9
    expect(aggregate(cands, 'prm-min-vote', judge.same)).toBe('41'); // 0.2 + 0.5 = 0.7 > 0.6
    expect(aggregate(cands, 'prm-last-vote', judge.same)).toBe('41'); // 1.1 > 0.7
    expect(aggregate([{ answer: null }], 'maj', judge.same)).toBeNull();
    expect(() => aggregate([{ answer: '1' }], 'orm-vote', judge.same)).toThrow(/orm/);
  });
});

describe('step scorers', () => {
  it('Monte-Carlo soft and hard labels from rollouts', async () => {
    const policy = branchy();
    const soft = new MonteCarloScorer(policy, judge, { rollouts: 3, label: 'soft', seed: 0 });
    const vs = await soft.score(problem, ['good 1', 'good: The answer is 42']);
    // 3 rollouts from "good 1" cycle through the three terminal steps: one is correct.
    expect(vs[0]).toBeCloseTo(1 / 3, 12);
    expect(vs[1]).toBe(1); // a finished prefix is valued by its own answer
    const hard = new MonteCarloScorer(branchy(), judge, { rollouts: 3, label: 'hard' });
    expect((await hard.score(problem, ['ok', 'bad: The answer is 41']))).toEqual([1, 0]);
    expect(soft.name).toBe('mc:n=3:soft');
  });

  it('rolls out a prefix that only ends in a number, with the real grader as judge', async () => {
    // The grader reads "13" from "Step 1: 18 - 5 = 13" (last-number fallback); the prefix is still unfinished.
    const real = answerJudge();
    const p = { ...problem, answer: '19' };
    const policy = new ScriptedPolicy((steps) => (steps.length === 1 ? [step('Step 2: 13 + 6 = 19', [-1])] : [step('The answer is 19', [-1], true)]));
    expect(real.finished(p, ['Step 1: 18 - 5 = 13'])).toBe(false);
    expect(real.finished(p, ['Step 1: 18 - 5 = 13', 'Step 2: 13 + 6 = 19', 'The answer is 19'])).toBe(true);
    expect(real.finished(p, [])).toBe(false);
    const mc = new MonteCarloScorer(policy, real, { rollouts: 2, seed: 0 });
    expect(await mc.score(p, ['Step 1: 18 - 5 = 13'])).toEqual([1]);
  });

  it('outcome labels give every step the solution correctness (N = 1)', async () => {
    const s = new OutcomeLabelScorer(judge);
    expect(await s.score(problem, ['a', 'The answer is 42'])).toEqual([1, 1]);
    expect(await s.score(problem, ['a', 'The answer is 4'])).toEqual([0, 0]);
  });

  it('external PRM adapter validates length and range', async () => {
    const ok = new ExternalPrmScorer('ext', (_p, steps) => steps.map(() => 0.5));
    expect(await ok.score(problem, ['a', 'b'])).toEqual([0.5, 0.5]);
    const short = new ExternalPrmScorer('ext', () => [0.5]);
    await expect(short.score(problem, ['a', 'b'])).rejects.toThrow(/expected 2 values/);
    const nan = new ExternalPrmScorer('ext', (_p, steps) => steps.map(() => Number.NaN));
    await expect(nan.score(problem, ['a'])).rejects.toThrow(/probability/);
  });

  it('scores each tree node once through leaf paths', async () => {
    let calls = 0;
    const counting: StepScorer = { name: 'c', score: async (p, s) => (calls++, prm.score(p, s)) };
    const v = await scoreTreeNodes(counting, problem, [-1, 0, 1, 1, 0], ['', 'good', 'bad', 'x', 'bad'], [false, false, true, true, true]);
    expect(v).toEqual([null, 0.9, 0.1, 0.5, 0.1]);
    expect(calls).toBe(3);
  });
});

describe('answerJudge (the core grader behind searches)', () => {
  it('extracts the final answer from the steps and grades it against the gold answer', async () => {
    const { answerJudge } = await import('../src/index.js');
    const j = answerJudge();
    expect(j.judge(problem, ['6 * 7 = 42', 'The answer is 42'])).toEqual({ answer: '42', correct: true });
    expect(j.judge(problem, ['6 * 7 = 41', 'The answer is \\boxed{41}']).correct).toBe(false);
    expect(j.judge(problem, []).answer).toBeNull();
    expect(j.same('\\frac{1}{2}', '0.5')).toBe(true);
    expect(j.same('3', '4')).toBe(false);
  });
});
