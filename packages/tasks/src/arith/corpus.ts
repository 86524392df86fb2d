/**
 * Pre-training corpus of imperfect arith-v1 solutions.
 *
 * A base model trained only on perfect solutions makes few, unstructured mistakes; the step-level methods
 * need a policy whose errors are step-local and fixable. So each step of a corpus solution goes wrong with
 * probability `errorRate`, in one of three ways, and every later step and the final answer follow the
 * (possibly wrong) running value, as a careless student would:
 *   - arithmetic:     right operands, wrong result (off by 1, 2, 10 or 100, or two digits swapped);
 *   - wrong-quantity: the right operation applied to another number from the question (start, another
 *                     operation's operand, or a distractor);
 *   - skipped-step:   the next operation is done in place of this one (on the last operation: the answer
 *                     line comes one step early).
 * Every injected error is recorded with the error kind the oracle checker must report for it, so the corpus
 * doubles as a test of the checker.
 */
import { Rng, type Problem } from '@stepwise/core';
import { TaskArgumentError } from '../errors.js';
import type { StepErrorKind } from './checker.js';
import { formatAnswer, formatStep, parseQuestion, promptText, solutionText } from './format.js';
import { trainProblem } from './generate.js';
import { LEVELS, applyOp, runningValues, type ArithSpec, type Level } from './spec.js';

export type CorpusErrorKind = 'arithmetic' | 'wrong-quantity' | 'skipped-step';
export const CORPUS_ERROR_KINDS: readonly CorpusErrorKind[] = ['arithmetic', 'wrong-quantity', 'skipped-step'];

export interface InjectedError {
  /** Index of the step string that carries the error. */
  index: number;
  kind: CorpusErrorKind;
  /** What checkSolution reports when this is the first error. */
  checkerKind: StepErrorKind;
  /**
   * True when no error was drawn here but the wrong running value made the step impossible to do exactly
   * (e.g. an inexact division); the step then truncates, which is an arithmetic error.
   */
  forced: boolean;
}

export interface ImperfectSolution {
  steps: string[];
  /** In step order; empty for a clean solution. */
  errors: InjectedError[];
  /** The number the answer line states. */
  statedAnswer: number;
}

export interface ErrorModel {
  /** Probability that a given computation step goes wrong, in [0, 1]. */
  errorRate: number;
  /** Relative weights of the error kinds (default 0.5 / 0.3 / 0.2). */
  weights?: Partial<Record<CorpusErrorKind, number>>;
}

const DEFAULT_WEIGHTS: Record<CorpusErrorKind, number> = { arithmetic: 0.5, 'wrong-quantity': 0.3, 'skipped-step': 0.2 };

function validateModel(model: ErrorModel): number[] {
  if (typeof model?.errorRate !== 'number' || !(model.errorRate >= 0 && model.errorRate <= 1)) {
    throw new TaskArgumentError('errorModel.errorRate', 'a number in [0, 1]', model?.errorRate);
  }
  const w = CORPUS_ERROR_KINDS.map((k) => model.weights?.[k] ?? (model.weights ? 0 : DEFAULT_WEIGHTS[k]));
  w.forEach((x, i) => {
    if (!(x >= 0) || !Number.isFinite(x)) throw new TaskArgumentError(`errorModel.weights.${CORPUS_ERROR_KINDS[i]}`, 'a finite number >= 0', x);
  });
  if (model.errorRate > 0 && w.every((x) => x === 0)) throw new TaskArgumentError('errorModel.weights', 'at least one positive weight', model.weights);
  return w;
}

/** Plausible slips of a result: small offsets, a carry error, or two adjacent digits swapped. */
function slip(rng: Rng, c: number): number {
  const candidates = new Set<number>();
  for (const d of [1, 2, 10]) candidates.add(c + d).add(c - d);
  if (Math.abs(c) >= 100) candidates.add(c + 100).add(c - 100);
  const digits = String(Math.abs(c));
  for (let i = 0; i + 1 < digits.length; i++) {
    if (digits[i] !== digits[i + 1] && !(i === 0 && digits[i + 1] === '0')) {
      const swapped = digits.slice(0, i) + digits[i + 1] + digits[i] + digits.slice(i + 2);
      candidates.add(Math.sign(c) * Number(swapped));
    }
  }
  const valid = [...candidates].filter((x) => x !== c && x >= 0);
  return valid.length > 0 ? rng.pick(valid) : c + 1;
}

/** Write a solution to `spec` with errors drawn from `model`, using `rng` only. */
export function imperfectSolution(spec: ArithSpec, rng: Rng, model: ErrorModel): ImperfectSolution {
  const weights = validateModel(model);
  const ops = spec.operations;
  const questionNumbers = [spec.start, ...ops.map((o) => o.operand), ...spec.distractors.map((d) => d.value)];
  const steps: string[] = [];
  const errors: InjectedError[] = [];
  let v = spec.start;
  let k = 0;
  while (k < ops.length) {
    const { op, operand } = ops[k];
    const stepNo = steps.length + 1;
    const record = (kind: CorpusErrorKind, checkerKind: StepErrorKind, forced = false) =>
      errors.push({ index: steps.length, kind, checkerKind, forced });
    let kind: CorpusErrorKind | null = model.errorRate > 0 && rng.bernoulli(model.errorRate) ? CORPUS_ERROR_KINDS[rng.categorical(weights)] : null;

    if (kind === 'skipped-step') {
      if (k === ops.length - 1) {
        // Skipping the last operation means stating the answer now.
        record(kind, 'premature-answer');
        steps.push(formatAnswer(v));
        return { steps, errors, statedAnswer: v };
      }
      const next = ops[k + 1];
      const c = applyOp(v, next.op, next.operand);
      if (c !== null && (next.op !== op || next.operand !== operand)) {
        record(kind, next.operand !== operand ? 'wrong-operand' : 'wrong-operation');
        steps.push(formatStep(stepNo, v, next.op, next.operand, c));
        v = c;
        k += 2;
        continue;
      }
      kind = 'arithmetic'; // the skip would be invisible or inexact here: fall back to a slip
    }
    if (kind === 'wrong-quantity') {
      const options = questionNumbers.filter((b) => {
        const c = applyOp(v, op, b);
        return b !== operand && c !== null && c >= 0;
      });
      if (options.length > 0) {
        const b = rng.pick(options);
        record(kind, 'wrong-operand');
        const c = applyOp(v, op, b)!;
        steps.push(formatStep(stepNo, v, op, b, c));
        v = c;
        k += 1;
        continue;
      }
      kind = 'arithmetic';
    }
    const exact = applyOp(v, op, operand);
    if (kind === 'arithmetic' || exact === null) {
      const truth = exact ?? Math.trunc(v / operand);
      const c = exact === null ? truth : slip(rng, truth);
      record('arithmetic', 'arithmetic', kind === null);
      steps.push(formatStep(stepNo, v, op, operand, c));
      v = c;
    } else {
      steps.push(formatStep(stepNo, v, op, operand, exact));
      v = exact;
    }
    k += 1;
  }
  steps.push(formatAnswer(v));
  return { steps, errors, statedAnswer: v };
}

export interface CorpusOptions extends ErrorModel {
  seed: number | string;
  /** Levels to draw problems from, uniformly (default all four) ... */
  levels?: readonly Level[];
  /** ... or relative weights per level (overrides `levels`). */
  levelWeights?: Partial<Record<Level, number>>;
}

export interface CorpusRecord {
  problem: Problem;
  level: Level;
  steps: string[];
  /** promptText(question) + solutionText(steps): the exact training string. */
  text: string;
  errors: InjectedError[];
  /** Outcome label: the stated answer equals the gold answer (can be true despite a process error). */
  answerCorrect: boolean;
}

/**
 * Corpus record `index` for the options: random access and deterministic, so a training run can stream
 * records, stop, and resume at any index. Problems come from the training streams (never the test split).
 */
export function corpusRecord(options: CorpusOptions, index: number): CorpusRecord {
  if (!Number.isInteger(index) || index < 0) throw new TaskArgumentError('index', 'an integer >= 0', index);
  const levels = options.levelWeights ? LEVELS : (options.levels ?? LEVELS);
  const weights = levels.map((l) => (options.levelWeights ? (options.levelWeights[l] ?? 0) : 1));
  if (levels.length === 0 || !levels.every((l) => LEVELS.includes(l))) throw new TaskArgumentError('levels', 'a non-empty list of levels 1..4', options.levels);
  const rng = new Rng(`arith-v1|corpus|${options.seed}`).split(index);
  const level = levels[rng.categorical(weights)];
  const problem = trainProblem(level, `corpus-${options.seed}`, index);
  const spec = parseQuestion(problem.question);
  const solution = imperfectSolution(spec, rng.split('solution'), options);
  const gold = runningValues(spec).at(-1)!;
  return {
    problem,
    level,
    steps: solution.steps,
    text: promptText(problem.question) + solutionText(solution.steps),
    errors: solution.errors,
    answerCorrect: solution.statedAnswer === gold,
  };
}

/** Records [offset, offset + count) of the corpus. */
export function* corpus(options: CorpusOptions, count: number, offset = 0): Generator<CorpusRecord> {
  if (!Number.isInteger(count) || count < 0) throw new TaskArgumentError('count', 'an integer >= 0', count);
  for (let i = 0; i < count; i++) yield corpusRecord(options, offset + i);
}
