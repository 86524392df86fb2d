/**
 * Errors of @stepwise/train. Bad arguments reuse core's ArgumentError (it names the argument, what was
 * expected and what came), so callers catch one class across the stepwise packages.
 */
export { ArgumentError, StepwiseError } from '@stepwise/core';
