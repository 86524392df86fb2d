import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wilson } from '@stepwise/eval';
import { afterAll, describe, expect, it } from 'vitest';
import { compareReport, RECIPES, validateConfig, type ModelEval, type RecipeRun } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'stepwise-compare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const n = 100;
const base = Array.from({ length: n }, (_, i) => i < 10); // 10%
/** Correct on the first k problems (a superset of the base's when k ≥ 10). */
const firstK = (k: number) => Array.from({ length: n }, (_, i) => i < k);

function writeRun(recipe: string, results: Record<string, boolean[]>): RecipeRun {
  const config = validateConfig(RECIPES[recipe].config('quick'));
  const dir = join(root, recipe);
  mkdirSync(join(dir, 'eval'), { recursive: true });
  const labels = Object.fromEntries(config.rounds.flatMap((r) => r.train.map((t) => [t.name, t.label])));
  for (const [model, xs] of Object.entries({ base, ...results })) {
    const acc = wilson(xs.filter(Boolean).length, n);
    const e: ModelEval = { model, label: labels[model] ?? 'base', problems: xs.map((_, i) => `p${i}`), greedy: xs, maj: xs, sampleAccuracy: 0, accuracy: { greedy: acc, maj: acc }, samples: 4 };
    writeFileSync(join(dir, 'eval', `${model}.json`), JSON.stringify(e));
  }
  return { config, dir, wallS: 1 };
}

describe('the --recipe all report', () => {
  it('claims only the differences that survive Bonferroni, and compares the margin ablation pairwise', async () => {
    const same = { sft: base, dpo: base, 'sppd-2': base };
    const runs = [
      writeRun('sppd', { ...same, sppd: firstK(60) }), // +50 points: 50 discordant pairs, all one way
      writeRun('sppd-gamma0', { ...same, sppd: firstK(13) }), // +3 points: noise
      writeRun('sppd-fixed', { ...same, sppd: base }),
    ];
    const out = { md: join(root, 'report.md'), json: join(root, 'report.json'), accSvg: join(root, 'plots/accuracy.svg') };
    const { markdown } = await compareReport(runs, out);
    const report = JSON.parse(readFileSync(out.json, 'utf8'));
    // 3 recipes × 4 trained models × 2 metrics vs base, + 2 stages × 3 pairs × 2 metrics in the ablation.
    expect(report.comparisons).toHaveLength(24 + 12);
    expect(report.bonferroni.alpha).toBeCloseTo(0.05 / 36, 12);
    const supported = report.comparisons.filter((c: { diff: { pValue: number } }) => c.diff.pValue < report.bonferroni.alpha).map((c: { what: string }) => c.what);
    // sppd's +SPPD vs base and vs both ablations (greedy and MAJ each); gamma0's +3 points is not among them.
    expect(new Set(supported)).toEqual(new Set(['sppd +SPPD vs base', 'sppd: sppd − sppd-gamma0', 'sppd: sppd − sppd-fixed']));
    expect(markdown).toContain('After a Bonferroni correction');
    expect(markdown).toContain('| sppd − sppd-gamma0 | +47.0');
    expect(markdown).not.toContain('none remains');
    expect(markdown).toContain('| sppd-gamma0 | complete |');
  });

  it('says that nothing is supported when no difference survives, whichever way the estimates point', async () => {
    const runs = [writeRun('dpo', { sft: firstK(12), dpo: firstK(7) })];
    const out = { md: join(root, 'r2.md'), json: join(root, 'r2.json'), accSvg: join(root, 'r2.svg') };
    const { markdown } = await compareReport(runs, out);
    expect(markdown).toMatch(/none remains: at this scale no recipe is shown to differ/);
    expect(markdown).toContain('Incomplete: sppd-gamma0, sppd-fixed, sppd did not finish');
  });
});
