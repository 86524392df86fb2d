/**
 * `stepwise pipeline --recipe all`: every recipe in its own run directory under OUT/<recipe>/ (each resumable
 * on its own), then one report comparing them (compare-report.ts) in OUT/report.md, report.json,
 * plots/accuracy.svg. The first recipe trains the base model; the others copy its checkpoint when their base
 * settings are the same (the training is deterministic, so this only saves time). A recipe that fails is
 * recorded with its message and the others still run; the call then throws naming the failed recipes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { compareReport, type RecipeRun } from './compare-report.js';
import type { PipelineConfig } from './config.js';
import { StageError } from './errors.js';
import { runPipeline, type PipelineOptions } from './pipeline.js';

export async function runAllRecipes(configs: readonly PipelineConfig[], o: PipelineOptions): Promise<{ markdown: string | null }> {
  const runs: RecipeRun[] = [];
  const baseKey = (c: PipelineConfig) => JSON.stringify([c.base, c.task.levels]);
  let shared: { dir: string; key: string } | null = null;
  const log = o.log ?? (() => undefined);
  for (const c of configs) {
    const dir = join(o.out, c.recipe);
    const t0 = performance.now();
    log(`== recipe ${c.recipe} → ${dir}`);
    let error: string | undefined;
    try {
      // --base-from (o.sharedBase) serves every recipe; otherwise the first recipe's base serves the rest.
      await runPipeline(c, { ...o, out: dir, log: (l) => log(`${c.recipe} ${l}`), sharedBase: o.sharedBase ?? (shared && shared.key === baseKey(c) ? shared.dir : undefined) });
    } catch (e) {
      error = (e as Error).message;
      log(`${c.recipe} failed: ${error}`);
    }
    if (!shared && existsSync(join(dir, 'ckpt/base/config.json'))) shared = { dir: join(dir, 'ckpt/base'), key: baseKey(c) };
    runs.push({ config: c, dir, wallS: (performance.now() - t0) / 1000, ...(error ? { error } : {}) });
  }
  let markdown: string | null = null;
  if (!o.only || o.only.includes('report')) {
    markdown = (await compareReport(runs, { md: join(o.out, 'report.md'), json: join(o.out, 'report.json'), accSvg: join(o.out, 'plots/accuracy.svg') })).markdown;
  }
  const failed = runs.filter((r) => r.error);
  if (failed.length > 0) throw new StageError(failed.map((r) => r.config.recipe).join(', '), `failed (${failed.map((r) => `${r.config.recipe}: ${r.error}`).join('; ')}); the report lists the others`);
  return { markdown };
}
