import type { Problem } from '@stepwise/core';

import type { Judge, ScriptedStep } from '../src/index.js';

export const problem: Problem = { id: 'p1', question: 'What is 6 * 7?', answer: '42', source: 'test' };

/** Test judge: the answer is the number after "answer is" in the last step; same = numeric equality. */
export const judge: Judge = {
  judge(p, steps) {
    const m = /answer is (-?\d+)/.exec(steps[steps.length - 1] ?? '');
    const answer = m ? m[1] : null;
    return { answer, correct: answer !== null && Number(answer) === Number(p.answer) };
  },
  same: (a, b) => Number(a) === Number(b),
  finished: (_p, steps) => /answer is -?\d+/.test(steps[steps.length - 1] ?? ''),
};

export const step = (text: string, logprobs: number[], terminal = false): ScriptedStep => ({ text, logprobs, terminal });
