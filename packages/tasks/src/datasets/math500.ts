/**
 * MATH / MATH500 JSONL ({"problem", "solution", "answer", "subject", "level", "unique_id"}) → core Problem.
 * The gold answer is the `answer` field as given (LaTeX; graded with the answer grader, never compared raw).
 * Reference steps are the solution's paragraphs (split at blank lines): MATH solutions have no step markup, so
 * this split is a convenience, not the authors' segmentation.
 */
import type { Problem } from '@stepwise/core';
import { MEMORY_SOURCE, type RecordSource } from '../errors.js';
import { fieldsOf, readDatasetJsonl } from '../json-input.js';

export interface MathOptions {
  /** `source` tag (default "math500"). */
  source?: string;
}

export function mathProblem(record: unknown, options: MathOptions = {}, src: RecordSource = MEMORY_SOURCE): Problem {
  const f = fieldsOf(record, src);
  const question = f.at('problem').string();
  const solution = f.at('solution').string();
  const answerField = f.at('answer');
  const answer = answerField.string();
  if (answer.trim() === '') throw answerField.error('expected a non-empty answer');
  const subject = f.at('subject').string();
  const levelField = f.at('level');
  const level = levelField.number();
  if (!Number.isInteger(level) || level < 1 || level > 5) throw levelField.error(`expected an integer level 1..5, got ${level}`);
  const id = f.at('unique_id').string();
  return {
    id,
    question,
    answer,
    source: options.source ?? 'math500',
    solutionSteps: solution.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 0),
    meta: { dataset: 'math', subject, level, solution },
  };
}

/** Load a MATH-format JSONL file (e.g. shared/data/math500/test.jsonl). */
export function loadMath500(path: string, options: MathOptions = {}): Problem[] {
  return readDatasetJsonl(path).map(({ line, value }) => mathProblem(value, options, { file: path, line }));
}
