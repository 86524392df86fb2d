/** Typed errors of @stepwise/recipes: each names the config field or argument that was wrong. */
import { StepwiseError } from '@stepwise/core';

const show = (v: unknown): string => {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
};

/** A config field (JSON path like `stages.sppd.loss.gamma`) holds a value outside its domain. */
export class ConfigError extends StepwiseError {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly actual?: unknown,
  ) {
    super(`config ${field}: expected ${expected}${actual === undefined ? '' : `, got ${show(actual)}`}`);
  }
}

/** A pipeline stage cannot run (missing input from an earlier stage, nothing to train on, …). */
export class StageError extends StepwiseError {
  constructor(
    readonly stage: string,
    message: string,
  ) {
    super(`stage ${stage}: ${message}`);
  }
}
