/**
 * Oracle step checker for arith-v1.
 *
 * Rules (docs/tasks.md has the full table). With n operations, a complete solution has n step lines and then
 * one answer line. Step i (0-based) for i < n must be exactly "Step <i+1>: <a> <op> <b> = <c>" where a is the
 * gold running value before operation i+1, op and b are that operation's, and c = a op b; for + and * the
 * operands may be swapped. Step n must be "The answer is <gold>". Checks run in this order, and the first
 * failing check names the error: malformed (off the grammar or wrong step number) > premature-answer > wrong
 * operand > wrong operation > arithmetic; then extra-step / wrong-final-answer / missing-final-answer.
 *
 * Each step is judged against the gold state, never against the (possibly wrong) numbers written before it:
 * once a step is wrong every later prefix is wrong anyway, because a prefix counts as correct only when all of
 * its steps are.
 */
import type { Problem } from '@stepwise/core';
import { TaskArgumentError } from '../errors.js';
import { parseLine, parseQuestion } from './format.js';
import { applyOp, runningValues, type ArithOp, type ArithSpec } from './spec.js';

export type StepErrorKind =
  | 'malformed'
  | 'premature-answer'
  | 'wrong-operand'
  | 'wrong-operation'
  | 'arithmetic'
  | 'extra-step'
  | 'wrong-final-answer'
  | 'missing-final-answer';

export interface StepError {
  /** 0-based index into the steps; for missing-final-answer it is steps.length (where the answer was due). */
  index: number;
  kind: StepErrorKind;
  message: string;
}

export interface CheckResult {
  /** True iff the solution is complete and every step (and the final answer) is right. */
  correct: boolean;
  firstError: StepError | null;
  /**
   * The answer the solution states: the first parsable answer line anywhere in it, even after an earlier
   * error (outcome labels need it), or null when there is none.
   */
  statedAnswer: number | null;
  /** The gold running values: [start, after op 1, ..., answer]. */
  goldValues: number[];
}

const COMMUTATIVE: Record<ArithOp, boolean> = { '+': true, '-': false, '*': true, '/': false };

function specFor(problem: Problem | ArithSpec): ArithSpec {
  if ('operations' in problem) return problem;
  if (typeof problem?.question !== 'string') throw new TaskArgumentError('problem.question', 'a string', problem?.question);
  return parseQuestion(problem.question);
}

/** Check a solution given as step strings (the question is parsed from `problem.question`). */
export function checkSolution(problem: Problem | ArithSpec, steps: readonly string[]): CheckResult {
  if (!Array.isArray(steps)) throw new TaskArgumentError('steps', 'an array of strings', steps);
  const spec = specFor(problem);
  const gold = runningValues(spec);
  const n = spec.operations.length;
  let statedAnswer: number | null = null;
  for (const s of steps) {
    const line = typeof s === 'string' ? parseLine(s) : null;
    if (line?.kind === 'answer') {
      statedAnswer = line.value;
      break;
    }
  }
  const fail = (index: number, kind: StepErrorKind, message: string): CheckResult => ({
    correct: false,
    firstError: { index, kind, message },
    statedAnswer,
    goldValues: gold,
  });

  for (let i = 0; i < steps.length; i++) {
    if (typeof steps[i] !== 'string') throw new TaskArgumentError(`steps[${i}]`, 'a string', steps[i]);
    const line = parseLine(steps[i]);
    if (line.kind === 'malformed') return fail(i, 'malformed', line.why);
    if (i > n) return fail(i, 'extra-step', 'text after the answer line');
    if (i === n) {
      if (line.kind === 'step') return fail(i, 'extra-step', `all ${n} operations were done; expected the answer line`);
      if (line.value !== gold[n]) return fail(i, 'wrong-final-answer', `stated ${line.value}, gold ${gold[n]}`);
      continue;
    }
    if (line.kind === 'answer') return fail(i, 'premature-answer', `answer given after ${i} of ${n} operations`);
    if (line.index !== i + 1) return fail(i, 'malformed', `step number ${line.index}, expected ${i + 1}`);
    const a = gold[i];
    const { op, operand: b } = spec.operations[i];
    const inOrder = line.a === a && line.b === b;
    const swapped = line.a === b && line.b === a;
    if (line.op === op) {
      if (!inOrder && !(swapped && COMMUTATIVE[op])) {
        const why = swapped ? `operands swapped in a non-commutative ${op}` : `expected ${a} ${op} ${b}`;
        return fail(i, 'wrong-operand', `${line.a} ${line.op} ${line.b}: ${why}`);
      }
    } else {
      if (!inOrder && !swapped) return fail(i, 'wrong-operand', `${line.a} ${line.op} ${line.b}: expected ${a} ${op} ${b}`);
      return fail(i, 'wrong-operation', `used ${line.op}, expected ${op}`);
    }
    const exact = applyOp(line.a, line.op, line.b);
    if (exact !== line.result) return fail(i, 'arithmetic', `${line.a} ${line.op} ${line.b} is ${exact}, not ${line.result}`);
  }
  if (steps.length <= n) {
    return fail(steps.length, 'missing-final-answer', `solution ends after ${steps.length} of ${n + 1} lines`);
  }
  return { correct: true, firstError: null, statedAnswer, goldValues: gold };
}

/**
 * One value per step prefix: 1 when steps[0..i] are all correct, else 0. A prefix that is correct but not yet
 * finished still scores 1 (it can be completed correctly); whether the whole solution is complete is
 * checkSolution's `correct`.
 */
export function stepValues(problem: Problem | ArithSpec, steps: readonly string[]): number[] {
  const { firstError } = checkSolution(problem, steps);
  const firstBad = firstError ? firstError.index : steps.length;
  return steps.map((_, i) => (i < firstBad ? 1 : 0));
}

/** The oracle as a step scorer (architecture.md's StepScorer shape), for search and pair selection. */
export const oracleScorer = {
  name: 'oracle',
  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    return stepValues(problem, steps);
  },
};
