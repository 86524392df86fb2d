/**
 * Argument handling shared by the `stepwise pipeline|sample|score|pairs|train|eval|report` commands: which
 * recipe, preset, config file and run directory; then run the pipeline restricted to the asked stages.
 * Exit codes: 0 done, 1 a stage failed, 2 usage or config error (the message names the flag or field).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StepwiseError } from '@stepwise/core';
import { merge, validateConfig } from './config.js';
import { ConfigError } from './errors.js';
import { runAllRecipes } from './all-recipes.js';
import { runPipeline, type StageName } from './pipeline.js';
import { recipe, RECIPES, type Preset } from './recipes/index.js';

const STAGES: readonly StageName[] = ['base', 'sample', 'score', 'pairs', 'train', 'eval', 'report'];

export class UsageError extends StepwiseError {}

export interface ParsedArgs {
  recipe: string;
  preset: Preset;
  config?: string;
  out: string;
  stages?: StageName[];
  /** --base-from: a base checkpoint to copy instead of training one. */
  baseFrom?: string;
  help: boolean;
}

export function commonHelp(command: string, what: string, stagesFlag = false): string {
  const names = [...Object.values(RECIPES).map((r) => `  ${r.name.padEnd(14)} ${r.summary}`), `  ${'all'.padEnd(14)} every recipe above in DIR/<recipe>/, then one report comparing them (margin ablation included)`].join('\n');
  return `usage: stepwise ${command} --recipe NAME [--config FILE] [--out DIR] [--preset quick|full] [--base-from DIR]${stagesFlag ? ' [--stages a,b,…]' : ''}

${what}

options:
  --recipe NAME     the method (default sppd):
${names}
  --config FILE     JSON overriding any config field (merged over the recipe's preset; every field is
                    validated, errors name it — see docs/pipeline.md for the full list)
  --out DIR         run directory (default runs/<recipe>-<preset>); re-running resumes it
  --preset P        'full' (default, the main job) or 'quick' (test scale, a few minutes)
  --base-from DIR   copy this base checkpoint (ckpt/base of an earlier run trained with the same base
                    settings and task levels) instead of training the base again; the manifest records it${stagesFlag ? `\n  --stages LIST     run only these stage kinds: ${STAGES.join(',')}` : ''}
  --help            this text

Stages are idempotent: a complete stage is skipped, an interrupted one continues from its last whole record.
Exit codes: 0 done, 1 a stage failed, 2 usage or config error.`;
}

export function parseArgs(command: string, args: readonly string[], allowStages: boolean): ParsedArgs {
  const out: Partial<ParsedArgs> & { help: boolean } = { help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`stepwise ${command}: ${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--recipe') out.recipe = value();
    else if (a === '--config') out.config = value();
    else if (a === '--out') out.out = value();
    else if (a === '--base-from') out.baseFrom = value();
    else if (a === '--preset') {
      const p = value();
      if (p !== 'quick' && p !== 'full') throw new UsageError(`stepwise ${command}: --preset expects quick or full, got '${p}'`);
      out.preset = p;
    } else if (a === '--stages' && allowStages) {
      const list = value().split(',');
      for (const s of list) if (!STAGES.includes(s as StageName)) throw new UsageError(`stepwise ${command}: --stages: unknown stage '${s}' (expected ${STAGES.join(', ')})`);
      out.stages = list as StageName[];
    } else throw new UsageError(`stepwise ${command}: unknown argument '${a}'`);
  }
  const r = out.recipe ?? 'sppd';
  const preset = out.preset ?? 'full';
  return { recipe: r, preset, config: out.config, out: out.out ?? `runs/${r}-${preset}`, stages: out.stages, baseFrom: out.baseFrom, help: out.help };
}

/** `--recipe all`: every recipe, in the RECIPES order (sppd and its ablations first). */
export const ALL = 'all';

/** The validated configs: one per recipe ('all': every recipe, each with the --config file merged). */
export function loadConfigs(a: ParsedArgs) {
  return a.recipe === ALL ? Object.keys(RECIPES).map((r) => loadConfig({ ...a, recipe: r })) : [loadConfig(a)];
}

/** The validated config: recipe preset, then the --config file's fields. */
export function loadConfig(a: ParsedArgs) {
  const base = recipe(a.recipe).config(a.preset);
  let over: unknown = {};
  if (a.config) {
    if (!existsSync(a.config)) throw new ConfigError('--config', 'an existing JSON file', a.config);
    try {
      over = JSON.parse(readFileSync(a.config, 'utf8'));
    } catch (e) {
      throw new ConfigError('--config', `valid JSON (${(e as Error).message})`, a.config);
    }
    if ((over as { recipe?: unknown }).recipe !== undefined && (over as { recipe?: unknown }).recipe !== a.recipe) throw new ConfigError('recipe', `the --recipe value '${a.recipe}' (or leave it out of the file)`, (over as { recipe?: unknown }).recipe);
  }
  return validateConfig(merge(base, over));
}

/** Runs `stages` (or all) and prints the report when the report stage ran; returns the exit code. */
export async function runCommand(command: string, help: string, args: readonly string[], stages?: StageName[]): Promise<number> {
  let parsed: ParsedArgs;
  let configs;
  try {
    parsed = parseArgs(command, args, stages === undefined);
    if (parsed.help) {
      console.log(help);
      return 0;
    }
    configs = loadConfigs(parsed);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`${e.message}\n\nRun 'stepwise ${command} --help' for usage.`);
      return 2;
    }
    throw e;
  }
  const only = stages ?? parsed.stages;
  try {
    if (parsed.baseFrom && !existsSync(join(parsed.baseFrom, 'config.json')))
      throw new ConfigError('--base-from', 'a model checkpoint directory (with config.json), e.g. runs/sppd/ckpt/base', parsed.baseFrom);
    const o = { out: parsed.out, only, progress: process.stdout.isTTY === true, log: (l: string) => console.log(l), sharedBase: parsed.baseFrom };
    const res = parsed.recipe === ALL ? await runAllRecipes(configs, o) : await runPipeline(configs[0], o);
    if (res && (!only || only.includes('report'))) console.log(`\n${res.markdown}\nrun directory: ${parsed.out}`);
    return 0;
  } catch (e) {
    console.error(`stepwise ${command}: ${(e as Error).message}`);
    return e instanceof ConfigError ? 2 : 1;
  }
}
