/**
 * The standard Judge: the grader of @stepwise/core decides both the final answer of a solution and whether
 * two answers are the same (for voting), so every label and every evaluation use one definition.
 */
import { answersEqual, extractAnswer, statedAnswer, type GradeOptions } from '@stepwise/core';

import type { Judge } from './policy.js';

export function answerJudge(opts: GradeOptions = {}): Judge {
  return {
    judge(problem, steps) {
      const answer = steps.length === 0 ? null : extractAnswer(steps.join('\n'));
      return { answer, correct: answer !== null && answersEqual(answer, problem.answer, opts) };
    },
    same: (a, b) => answersEqual(a, b, opts),
    finished: (_problem, steps) => steps.length > 0 && statedAnswer(steps[steps.length - 1]) !== null,
  };
}
