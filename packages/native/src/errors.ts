/** Typed errors of @stepwise/native. Every message names the argument and what was expected. */

export class StepwiseNativeError extends Error {
  override name = 'StepwiseNativeError';
}

/** A bad argument: wrong type, dtype, length, range, or a forbidden NaN. */
export class ArgumentError extends StepwiseNativeError {
  override name = 'ArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly got?: string,
  ) {
    super(`${argument}: expected ${expected}${got === undefined ? '' : `, got ${got}`}`);
  }

  /**
   * Wraps a TypeError/RangeError thrown by the C++ layer ("fn: argument: expected …"), keeping its message
   * and recovering the argument name, so callers see one error class whichever layer caught the problem.
   */
  static fromNative(err: Error, fn: string): ArgumentError {
    // Shape checks read "fn: argument: detail"; value checks inside a job read "argument: detail".
    const rest = err.message.startsWith(`${fn}: `) ? err.message.slice(fn.length + 2) : err.message;
    const cut = rest.indexOf(': ');
    const e = new ArgumentError(cut < 0 ? fn : rest.slice(0, cut), rest.slice(cut + 2).replace(/^expected /, ''));
    e.message = err.message;
    e.cause = err;
    return e;
  }
}

/** The compiled addon could not be loaded; the message lists every path tried and how to build it. */
export class NativeLoadError extends StepwiseNativeError {
  override name = 'NativeLoadError';
}

/** A backend (e.g. CUDA) was asked for but is not usable in this process. */
export class BackendUnavailableError extends StepwiseNativeError {
  override name = 'BackendUnavailableError';
}

/** A kernel failed while running (e.g. a CUDA launch or allocation error); the message says which call. */
export class KernelError extends StepwiseNativeError {
  override name = 'KernelError';
}

/** A handle (device buffer, model) was used after dispose(). */
export class DisposedError extends StepwiseNativeError {
  override name = 'DisposedError';
}

/** Describes a value for an error message without dumping large arrays. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const n = (value as { length?: number }).length;
    return `${value.constructor.name}${n === undefined ? '' : `(${n})`}`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}
