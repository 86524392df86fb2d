/** Typed errors of the engine, and the mapping from the addon's error codes to them. */
import { ArgumentError, DisposedError, StepwiseNativeError } from '../errors.js';

/** An invalid model, optimizer or cache configuration (the message names the field). */
export class ConfigError extends StepwiseNativeError {
  override name = 'ConfigError';
}
/** A token id outside [0, vocabSize), or another out-of-range batch index. */
export class TokenRangeError extends ArgumentError {
  override name = 'TokenRangeError';
}
/** A sequence longer than the model's maxSeqLen. */
export class SequenceTooLongError extends StepwiseNativeError {
  override name = 'SequenceTooLongError';
}
/** A synchronous call while an async job holds the model; await the pending promise first. */
export class BusyError extends StepwiseNativeError {
  override name = 'BusyError';
}
/** backward() was given the output of a forward that is no longer the model's latest. */
export class StaleForwardError extends StepwiseNativeError {
  override name = 'StaleForwardError';
}
/** The KV cache budget cannot hold the sequences of one call. */
export class CacheBudgetError extends StepwiseNativeError {
  override name = 'CacheBudgetError';
}
/** A checkpoint that cannot be read or does not match the model. */
export class CheckpointError extends StepwiseNativeError {
  override name = 'CheckpointError';
}

/** Turns an addon error (with `code`) into the typed error; anything else passes through. */
export function mapNativeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as Error & { code?: string }).code;
  const msg = err.message;
  const split = (): [string, string, string | undefined] => {
    const i = msg.indexOf(': expected ');
    if (i < 0) return [msg, 'a valid value', undefined];
    const rest = msg.slice(i + ': expected '.length);
    const g = rest.lastIndexOf(', got ');
    return g < 0 ? [msg.slice(0, i), rest, undefined] : [msg.slice(0, i), rest.slice(0, g), rest.slice(g + 6)];
  };
  switch (code) {
    case 'ERR_CONFIG':
      return new ConfigError(msg);
    case 'ERR_SEQ_TOO_LONG':
      return new SequenceTooLongError(msg);
    case 'ERR_DISPOSED':
      return new DisposedError(msg);
    case 'ERR_BUSY':
      return new BusyError(msg);
    case 'ERR_STALE_FORWARD':
      return new StaleForwardError(msg);
    case 'ERR_CACHE_BUDGET':
      return new CacheBudgetError(msg);
    case 'ERR_ARGUMENT': {
      const [arg, expected, got] = split();
      return /^(tokens|targets)\[/.test(arg) ? new TokenRangeError(arg, expected, got) : new ArgumentError(arg, expected, got);
    }
    default:
      return err;
  }
}

/** Runs a raw addon call, rethrowing typed errors (sync throws and promise rejections alike). */
export function callNative<T>(fn: () => T): T {
  let r: T;
  try {
    r = fn();
  } catch (e) {
    throw mapNativeError(e);
  }
  if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(mapNativeError(e))) as T;
  return r;
}
