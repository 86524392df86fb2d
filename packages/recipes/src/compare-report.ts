/**
 * The report of `stepwise pipeline --recipe all`: every recipe's models side by side, each compared with the
 * base model on the same held-out problems (paired difference, 95% interval, exact McNemar p), the SPPD margin
 * ablation (γ = 0 / fixed / dynamic) compared pairwise, and a verdict computed from the numbers: which
 * differences survive a Bonferroni correction over every comparison in the report — nothing is claimed that
 * the intervals do not support, whichever way the differences point.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonl, writeFileAtomic, writeJsonAtomic, type PreferencePair } from '@stepwise/core';
import { accuracyBarsSvg, formatDifference, formatInterval, pairedDifference, type PairedComparison } from '@stepwise/eval';
import type { PipelineConfig } from './config.js';
import { describeScorer, type ModelEval } from './eval-report.js';
import { UNTRAINED } from './pipeline.js';
import { stageTimes } from './stage-times.js';

/** One recipe's run inside the `all` directory. */
export interface RecipeRun {
  config: PipelineConfig;
  dir: string;
  /** Wall-clock of this invocation for the recipe (a resumed run counts only the stages it ran). */
  wallS: number;
  /** The failing stage's message, when the recipe did not finish. */
  error?: string;
}

/** The margin ablation's recipes, in the order the report lists them. */
export const MARGIN_ABLATION = [
  { recipe: 'sppd-gamma0', margin: 'γ = 0 (plain step-DPO)' },
  { recipe: 'sppd-fixed', margin: 'fixed (mean of γ·ΔV)' },
  { recipe: 'sppd', margin: 'dynamic γ·(V_w − V_l)' },
] as const;

type Metric = 'greedy' | 'maj' | 'beam';
interface Comparison {
  what: string;
  metric: Metric;
  diff: PairedComparison;
}

async function evalsOf(r: RecipeRun): Promise<ModelEval[]> {
  const names = ['base', ...r.config.rounds.flatMap((round) => round.train.map((t) => t.name))];
  const out: ModelEval[] = [];
  for (const n of names) {
    const f = join(r.dir, 'eval', `${n}.json`);
    if (existsSync(f)) out.push(JSON.parse(await readFile(f, 'utf8')) as ModelEval);
  }
  return out;
}

/** The distinct V_w − V_l of a run's SPPD sibling pairs (every round). */
async function siblingGaps(r: RecipeRun | undefined): Promise<Set<number>> {
  const gaps = new Set<number>();
  if (!r || r.error) return gaps;
  for (let k = 1; k <= r.config.rounds.length; k++) {
    const f = join(r.dir, k === 1 ? 'pairs.jsonl' : `pairs-r${k}.jsonl`);
    if (!existsSync(f)) continue;
    for (const p of (await readJsonl<PreferencePair>(f)).records) {
      if (p.rule === 'sppd-siblings' && p.schema === 'stepwise.step-pair@1' && p.chosenValue != null && p.rejectedValue != null) gaps.add(Number((p.chosenValue - p.rejectedValue).toFixed(6)));
    }
  }
  return gaps;
}

/**
 * Seconds the run's stages took, from its manifest (start to finish of each stage's last attempt), so the
 * number survives a later invocation that only skips complete stages. A copied base counts its copy.
 */
async function stageSeconds(dir: string): Promise<number | null> {
  const t = await stageTimes(dir);
  return t === null ? null : Object.values(t).reduce((a, b) => a + b, 0);
}

const same = (a: readonly boolean[] | undefined, b: readonly boolean[] | undefined) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

export async function compareReport(runs: readonly RecipeRun[], out: { md: string; json: string; accSvg: string }): Promise<{ markdown: string }> {
  const evals = new Map<string, ModelEval[]>();
  for (const r of runs) evals.set(r.config.recipe, await evalsOf(r));
  const done = runs.filter((r) => !r.error && (evals.get(r.config.recipe)?.length ?? 0) > 1);
  const c0 = runs[0].config;
  const N = c0.eval.samples;
  const comparisons: Comparison[] = [];
  const pct = (x: number) => (100 * x).toFixed(1);

  // Every trained model against its own run's base (the same weights in every run when the base is shared).
  const bases = done.map((r) => evals.get(r.config.recipe)![0]);
  const baseShared = bases.every((b) => same(b.greedy, bases[0]?.greedy) && same(b.maj, bases[0]?.maj));
  const table: string[] = [`| recipe | model | step values | greedy | MAJ@${N} | greedy vs base | MAJ@${N} vs base |`, '|---|---|---|---|---|---|---|'];
  if (bases[0]) table.push(`| (all) | base | — | ${formatInterval(bases[0].accuracy.greedy)} | ${formatInterval(bases[0].accuracy.maj)} | — | — |`);
  const rowsJson: Record<string, unknown>[] = [];
  for (const r of done) {
    const [base, ...trained] = evals.get(r.config.recipe)!;
    for (const e of trained) {
      if (existsSync(join(r.dir, 'ckpt', e.model, UNTRAINED))) {
        // A copy of the stage's input (no pairs): not a model of its own, so not a comparison of its own.
        table.push(`| ${r.config.recipe} | ${e.label} | ${describeScorer(r.config)} | ${formatInterval(e.accuracy.greedy)} | ${formatInterval(e.accuracy.maj)} | — | — |`);
        continue;
      }
      const g = pairedDifference(base.greedy, e.greedy);
      const m = pairedDifference(base.maj, e.maj);
      comparisons.push({ what: `${r.config.recipe} ${e.label} vs base`, metric: 'greedy', diff: g }, { what: `${r.config.recipe} ${e.label} vs base`, metric: 'maj', diff: m });
      table.push(`| ${r.config.recipe} | ${e.label} | ${describeScorer(r.config)} | ${formatInterval(e.accuracy.greedy)} | ${formatInterval(e.accuracy.maj)} | ${formatDifference(g)} | ${formatDifference(m)} |`);
      rowsJson.push({ recipe: r.config.recipe, model: e.model, label: e.label, greedy: e.accuracy.greedy, maj: e.accuracy.maj, vsBase: { greedy: g, maj: m } });
    }
  }

  // Search-based evaluation (svpo's SBS): its own small table, base vs trained under the same value model.
  const beamLines: string[] = [];
  for (const r of done) {
    const [base, ...trained] = evals.get(r.config.recipe)!;
    if (!base.beam) continue;
    const sbs = `SBS(${r.config.eval.beamWidth},${r.config.eval.beamSamples})`;
    beamLines.push(`### ${r.config.recipe}: step-level beam search ${sbs}, ranked by the learned PRM`, '', `| model | ${sbs} | vs base |`, '|---|---|---|', `| base | ${formatInterval(base.accuracy.beam)} | — |`);
    for (const e of trained) {
      if (!e.beam) continue;
      const d = pairedDifference(base.beam, e.beam);
      comparisons.push({ what: `${r.config.recipe} ${e.label} vs base`, metric: 'beam', diff: d });
      beamLines.push(`| ${e.label} | ${formatInterval(e.accuracy.beam)} | ${formatDifference(d)} |`);
    }
    beamLines.push('');
  }

  // Margin ablation: the same pipeline but for the margin of the SPPD stages; pairwise on the same problems.
  const ablation: string[] = [];
  const present = MARGIN_ABLATION.filter((a) => done.some((r) => r.config.recipe === a.recipe));
  if (present.length < MARGIN_ABLATION.length) {
    ablation.push(`Incomplete: ${MARGIN_ABLATION.filter((a) => !present.includes(a)).map((a) => a.recipe).join(', ')} did not finish (see "Runs").`, '');
  }
  const gaps = await siblingGaps(runs.find((r) => r.config.recipe === 'sppd'));
  if (gaps.size === 1) {
    ablation.push(`Every SPPD sibling pair of the \`sppd\` run has the same value gap ΔV = ${[...gaps][0]}, so its fixed margin (the mean of γ·ΔV) equals the dynamic one on every pair: \`sppd-fixed\` and \`sppd\` train the same objective here, and any difference between them is not the margin's doing.`, '');
  }
  for (const stage of ['sppd', 'sppd-2']) {
    const models = present.flatMap((a) => {
      const e = evals.get(a.recipe)!.find((x) => x.model === stage);
      return e ? [{ ...a, e }] : [];
    });
    if (models.length === 0) continue;
    ablation.push(`**${models[0].e.label}** (stage \`${stage}\`)`, '', `| margin | recipe | greedy | MAJ@${N} |`, '|---|---|---|---|');
    for (const x of models) ablation.push(`| ${x.margin} | ${x.recipe} | ${formatInterval(x.e.accuracy.greedy)} | ${formatInterval(x.e.accuracy.maj)} |`);
    ablation.push('', `| comparison (B − A) | greedy | MAJ@${N} |`, '|---|---|---|');
    for (let i = 0; i < models.length; i++) {
      for (let j = i + 1; j < models.length; j++) {
        const [a, b] = [models[i], models[j]];
        const g = pairedDifference(a.e.greedy, b.e.greedy);
        const m = pairedDifference(a.e.maj, b.e.maj);
        const what = `${stage}: ${b.recipe} − ${a.recipe}`;
        comparisons.push({ what, metric: 'greedy', diff: g }, { what, metric: 'maj', diff: m });
        ablation.push(`| ${b.recipe} − ${a.recipe} | ${formatDifference(g)} | ${formatDifference(m)} |`);
      }
    }
    ablation.push('');
  }

  // The verdict: nominal p < 0.05 and, over the whole family of comparisons, Bonferroni.
  const alpha = 0.05 / Math.max(1, comparisons.length);
  const nominal = comparisons.filter((x) => x.diff.pValue < 0.05);
  const corrected = comparisons.filter((x) => x.diff.pValue < alpha);
  const metricName = (m: Metric) => (m === 'maj' ? `MAJ@${N}` : m === 'beam' ? 'SBS' : 'greedy');
  const say = (x: Comparison) => `${x.what} (${metricName(x.metric)}): ${formatDifference(x.diff)}`;
  const verdict = [
    `${comparisons.length} paired comparisons in this report. ${nominal.length} ${nominal.length === 1 ? 'has' : 'have'} p < 0.05 before correction` + (nominal.length ? `: ${nominal.map(say).join('; ')}.` : '.'),
    corrected.length
      ? `After a Bonferroni correction (p < ${alpha.toPrecision(2)}), ${corrected.length} remain: ${corrected.map(say).join('; ')}. Only these are differences the data support; every other row is within noise.`
      : `After a Bonferroni correction (p < ${alpha.toPrecision(2)}) none remains: at this scale no recipe is shown to differ from the base model or from another recipe, in either direction.`,
    `With ${bases[0]?.problems.length ?? 0} problems, the 95% interval of a paired difference is about ±${pct(1.96 * Math.sqrt(0.1 / Math.max(1, bases[0]?.problems.length ?? 1)))} points when 10% of the problems are discordant: smaller effects cannot be resolved.`,
  ];

  const failed = runs.filter((r) => r.error || !done.includes(r));
  const seconds = await Promise.all(runs.map((r) => stageSeconds(r.dir)));
  const lines = [
    `# stepwise pipeline — every recipe`,
    '',
    `Held-out arith-v1 test split, levels ${c0.task.levels.join(', ')} (${bases[0]?.problems.length ?? 0} problems); accuracy in % with 95% Wilson intervals; `
      + `"vs base" = paired difference on the same problems in points (95% interval, exact McNemar p). MAJ@${N} at temperature ${c0.eval.temperature}${(bases[0]?.maj.length ?? 0) < (bases[0]?.problems.length ?? 0) ? ` on the first ${bases[0]?.maj.length} problems` : ''}. `
      + (baseShared ? 'Every run starts from the same base model (one training, copied) and its evaluation is identical in every run.' : "The base evaluations differ between runs; each row is compared with its own run's base."),
    '',
    '## All recipes',
    '',
    ...table,
    '',
    ...(beamLines.length ? ['## Search-based evaluation', '', ...beamLines] : []),
    '## SPPD margin ablation (methods.md §9.2)',
    '',
    'Three runs that differ only in the margin of the SPPD stages (their SFT and DPO stages are the same configuration).',
    '',
    ...ablation,
    '## What the numbers support',
    '',
    ...verdict.map((v) => `- ${v}`),
    '',
    '## Runs',
    '',
    '| recipe | status | stage time from the manifest (s) | wall-clock of this invocation (s) | run directory |',
    '|---|---|---|---|---|',
    ...runs.map((r, i) => `| ${r.config.recipe} | ${r.error ? `**failed**: ${r.error.replace(/\|/g, '/')}` : done.includes(r) ? 'complete' : 'no evaluation'} | ${seconds[i]?.toFixed(0) ?? '—'} | ${r.wallS.toFixed(0)} | ${r.config.recipe}/ |`),
    '',
    ...(failed.length ? [`**${failed.length} recipe(s) did not finish**; their rows are missing above.`, ''] : []),
    '![final model of every recipe](plots/accuracy.svg)',
    '',
  ];
  await writeFileAtomic(out.md, lines.join('\n'));
  await writeJsonAtomic(out.json, {
    problems: bases[0]?.problems.length ?? 0,
    samples: N,
    baseShared,
    rows: rowsJson,
    comparisons,
    bonferroni: { comparisons: comparisons.length, alpha },
    runs: runs.map((r, i) => ({ recipe: r.config.recipe, stageSeconds: seconds[i], wallS: r.wallS, error: r.error ?? null, complete: done.includes(r) })),
  });
  const bars = [
    ...(bases[0] ? [{ label: 'base', interval: bases[0].accuracy.greedy }] : []),
    ...done.map((r) => {
      const last = evals.get(r.config.recipe)!.at(-1)!;
      return { label: `${r.config.recipe}`, interval: last.accuracy.greedy };
    }),
  ];
  await writeFileAtomic(out.accSvg, accuracyBarsSvg('greedy accuracy of each recipe\'s final model', bars));
  return { markdown: lines.join('\n') };
}
