import type { Tree } from '@stepwise/core';
import { answerJudge, ScriptedPolicy } from '@stepwise/search';
import { trainProblem } from '@stepwise/tasks';
import { describe, expect, it } from 'vitest';

import { monteCarloTreeValues, rollouts } from '../src/index.js';

// A level-1 problem and a scripted policy that finishes it from any prefix: after "Step 1" comes the right or
// the wrong second step (alternating: the script cycles through them per prefix), then the answer line that follows from it.
const problem = trainProblem(1, 'rollouts-test', 0);
const [s1, s2, answerLine] = problem.solutionSteps;
const wrong2 = s2.replace(/= (\d+)$/, (_m, v) => `= ${Number(v) + 1}`);
const wrongAnswer = answerLine.replace(/(\d+)$/, (v) => String(Number(v) + 1));
function scripted(): ScriptedPolicy {
  return new ScriptedPolicy((steps) => {
    if (steps.length === 0) return [{ text: s1, logprobs: [-1], terminal: false }];
    if (steps.length === 1) return [{ text: s2, logprobs: [-1], terminal: false }, { text: wrong2, logprobs: [-1], terminal: false }];
    return [{ text: steps[1] === s2 ? answerLine : wrongAnswer, logprobs: [-1], terminal: true }];
  });
}

describe('rollouts', () => {
  it('generates from a prefix whose last step merely ends in a number', async () => {
    const rs = await rollouts(scripted(), answerJudge(), [{ problem, prefix: [s1] }, { problem, prefix: [s1, s2, answerLine] }], {
      sampling: { temperature: 1 }, maxDepth: 8, seed: 0,
    });
    // Before the fix the grader's last-number fallback made [s1] look finished: 0 steps generated, judged on s1.
    expect(rs[0].generated).toBe(2);
    expect(rs[0].steps.at(-1)).toMatch(/^The answer is /);
    expect(rs[1].generated).toBe(0);
    expect(rs[1].correct).toBe(true);
  });

  it('values a non-terminal tree node by the fraction of its rollouts that reach the gold answer', async () => {
    const tree: Tree = {
      schema: 'stepwise.tree@1', problemId: problem.id,
      parent: [-1, 0, 1, 2], text: ['', s1, s2, answerLine], depth: [0, 1, 2, 3], terminal: [false, false, false, true],
      logprobSum: [0, -1, -1, -1], tokenCount: [0, 1, 1, 1], answer: [null, null, null, problem.answer], correct: [null, null, null, true],
    } as unknown as Tree;
    const v = await monteCarloTreeValues(scripted(), answerJudge(), problem, tree, 4, { sampling: { temperature: 1 }, maxDepth: 8, seed: 't' });
    expect(v[0]).toBeNull();
    expect(v[3]).toBe(1);
    expect(v[2]).toBe(1); // every rollout from the right second step ends right
    expect(v[1]).toBe(0.5); // the script alternates the right and the wrong second step: 2 of 4 rollouts
  });
});
