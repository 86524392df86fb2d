import { ConfigError } from '../errors.js';
import type { Recipe } from './common.js';
import { dpo, fullStepDpo, sphere, stepDpo, svpo } from './others.js';
import { sppd, sppdFixed, sppdGamma0, sppdOracle, sppdPrm } from './sppd.js';

export * from './common.js';
export * from './sppd.js';
export * from './others.js';

export const RECIPES: Record<string, Recipe> = Object.fromEntries(
  [sppd, sppdPrm, sppdGamma0, sppdFixed, sppdOracle, fullStepDpo, svpo, sphere, stepDpo, dpo].map((r) => [r.name, r]),
);

export function recipe(name: string): Recipe {
  const r = RECIPES[name];
  if (!r) throw new ConfigError('recipe', Object.keys(RECIPES).join(' | '), name);
  return r;
}
