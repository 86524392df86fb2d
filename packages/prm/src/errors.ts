/** Typed errors of @stepwise/prm: every message names the argument and what was expected. */
export class PrmArgumentError extends Error {
  override name = 'PrmArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly got?: unknown,
  ) {
    super(`${argument}: expected ${expected}${got === undefined ? '' : `, got ${typeof got === 'string' ? got : JSON.stringify(got)}`}`);
  }
}
