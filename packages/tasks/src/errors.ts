/**
 * Typed errors of @stepwise/tasks. Every message names what was wrong and where, so a bad argument or a bad
 * record in a 100k-line file can be found without a debugger.
 */

/** A caller passed a bad argument (names the argument and what was expected). */
export class TaskArgumentError extends RangeError {
  override readonly name = 'TaskArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${argument}: expected ${expected}, got ${describeValue(got)}`);
  }
}

/**
 * A record in a dataset or interchange file is malformed. `file` is the path (or a caller-given label such as
 * "<memory>"), `line` is 1-based (0 when the input is not line-oriented), `field` is a JSON path like
 * "label.steps[3].completions[0].rating".
 */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}:${line}: field ${field}: ${problem}`);
  }
}

/** Where a record came from, threaded through the converters so their errors can name file and line. */
export interface RecordSource {
  file: string;
  line: number;
}

export const MEMORY_SOURCE: RecordSource = { file: '<memory>', line: 0 };

export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}
