import { describe, expect, it } from 'vitest';
import { loadConfig, merge, parseArgs, RECIPES, stagePlan, validateConfig } from '../src/index.js';

describe('pipeline config', () => {
  it('every recipe and preset validates, with a plan that ends in eval and report', () => {
    for (const r of Object.values(RECIPES))
      for (const preset of ['quick', 'full'] as const) {
        const c = validateConfig(r.config(preset));
        const plan = stagePlan(c);
        expect(plan[0]).toBe('base');
        expect(plan.slice(-2)).toEqual(['eval', 'report']);
        expect(c.score.scorer === 'oracle').toBe(r.name === 'sppd-oracle'); // the oracle is never a default
      }
  });

  it('names the offending field', () => {
    const c = RECIPES.sppd.config('quick');
    expect(() => validateConfig(merge(c, { sample: { iterations: 0 } }))).toThrow(/sample\.iterations/);
    expect(() => validateConfig(merge(c, { score: { scorer: 'gpt' } }))).toThrow(/score\.scorer/);
    expect(() => validateConfig(merge(c, { task: { levels: [5] } }))).toThrow(/task\.levels\[0\]/);
    expect(() => validateConfig(merge(c, { smaple: {} }))).toThrow(/config\.smaple/);
    const bad = merge(c, { rounds: [{ train: [{ name: 'x', label: 'x', data: 'siblings', train: { lr: 3 } }] }] });
    expect(() => validateConfig(bad)).toThrow(/rounds\[0\]\.train\[0\]\.train\.lr/);
  });

  it('parses flags with usage errors for unknown ones', () => {
    expect(parseArgs('pipeline', ['--recipe', 'dpo', '--preset', 'quick'], true)).toMatchObject({ recipe: 'dpo', preset: 'quick', out: 'runs/dpo-quick' });
    expect(() => parseArgs('pipeline', ['--preset', 'huge'], true)).toThrow(/--preset/);
    expect(() => parseArgs('pipeline', ['--frobnicate'], true)).toThrow(/--frobnicate/);
    expect(() => parseArgs('pipeline', ['--stages', 'base,cook'], true)).toThrow(/cook/);
    expect(() => loadConfig({ recipe: 'nope', preset: 'full', out: 'x', help: false })).toThrow(/recipe/);
  });
});
