/**
 * Typed errors of @stepwise/core. Each names the thing that was wrong (a field path, a file and line, an
 * argument) in a property as well as in the message, so callers can branch on it and people can read it.
 */

/** Base class: every error thrown on purpose by this package is a StepwiseError. */
export class StepwiseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value does not match its schema. `field` is a JSON path such as `tree.parent[3]`. */
export class ValidationError extends StepwiseError {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly actual: unknown,
  ) {
    super(`${field}: expected ${expected}, got ${describe(actual)}`);
  }
}

/** A function argument is out of its domain. */
export class ArgumentError extends StepwiseError {
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly actual?: unknown,
  ) {
    super(`argument ${argument}: expected ${expected}${actual === undefined ? '' : `, got ${describe(actual)}`}`);
  }
}

/**
 * A JSONL line could not be used. `line` is 1-based (-1 when the problem is not a line in the file, e.g. a
 * record refused by a writer); `field` is set when the line parsed as JSON but a
 * record validator rejected one of its fields.
 */
export class JsonlError extends StepwiseError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}${field ? ` (field ${field})` : ''}: ${reason}`, options);
  }
}

/** The run directory or its manifest is in a state we cannot continue from. */
export class RunDirError extends StepwiseError {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${reason}`, options);
  }
}

/** A tokenizer could not be loaded, or cannot encode/decode what it was given. */
export class TokenizerError extends StepwiseError {}

/**
 * Prompt + steps could not be aligned to tokens, typically because the tokenizer does not reproduce the
 * text (a normalizer changed it). `charIndex` is the first character where decoding diverged.
 */
export class AlignmentError extends StepwiseError {
  constructor(
    readonly charIndex: number,
    reason: string,
  ) {
    super(`alignment failed at char ${charIndex}: ${reason}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array(length ${value.length})`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}
