/** Typed errors of @stepwise/backends: every one names the argument and what was expected. */
export class BackendArgumentError extends Error {
  override name = 'BackendArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly got?: unknown,
  ) {
    super(`${argument}: expected ${expected}${got === undefined ? '' : `, got ${describe(got)}`}`);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'undefined';
  return Object.prototype.toString.call(v);
}

export const requirePosInt = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new BackendArgumentError(name, 'a positive integer', v);
  return v;
};

export const requireNonNegInt = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new BackendArgumentError(name, 'a non-negative integer', v);
  return v;
};

export const requireRange = (name: string, v: unknown, lo: number, hi: number): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new BackendArgumentError(name, `a number in [${lo}, ${hi}]`, v);
  return v;
};
