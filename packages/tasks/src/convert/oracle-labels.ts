/**
 * Step labels for arith-v1 solutions from the oracle checker, in the converters' shape, so checker output can
 * be exported as TRL stepwise supervision, Math-Shepherd or PRM800K records.
 */
import type { Problem } from '@stepwise/core';
import { stepValues } from '../arith/checker.js';
import { promptText } from '../arith/format.js';
import type { StepLabelledSolution } from './types.js';

export function oracleStepLabelled(problem: Problem, steps: readonly string[]): StepLabelledSolution {
  return {
    problemId: problem.id,
    prompt: promptText(problem.question),
    steps: [...steps],
    labels: stepValues(problem, steps).map((v) => v === 1),
    source: 'oracle',
  };
}
