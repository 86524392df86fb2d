/**
 * Evaluation (methods.md §8) of every checkpoint on the held-out split — greedy and MAJ@N, batched over all
 * problems — and the report: report.md (the table a person reads first), report.json, SVG plots.
 * Each model's result is its own file (eval/<model>.json, written atomically), so an interrupted eval stage
 * redoes only the models it had not finished.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { readJsonl, writeFileAtomic, writeJsonAtomic, type Problem } from '@stepwise/core';
import { accuracyBarsSvg, formatDifference, formatInterval, lineChartSvg, pairedDifference, wilson, type Interval } from '@stepwise/eval';
import { loadModel, type Model } from '@stepwise/native';
import { aggregate, stepBeamSearch, type Policy, type StepScorer } from '@stepwise/search';
import { testSplit, type Level } from '@stepwise/tasks';
import type { PipelineConfig } from './config.js';
import { StageError } from './errors.js';
import { judge, policyFor, type Tick } from './data-stages.js';
import { rollouts } from './rollouts.js';

export interface ModelEval {
  model: string;
  label: string;
  problems: string[];
  greedy: boolean[];
  /** One per problem of the sampled prefix of `problems` (eval.sampledProblems), like `beam`. */
  maj: boolean[];
  /** Step-level beam search's top answer per problem (eval.search 'beam' only). */
  beam?: boolean[];
  /** Mean fraction of the N samples that were correct. */
  sampleAccuracy: number;
  accuracy: { greedy: Interval; maj: Interval; beam?: Interval };
  samples: number;
}

export function testProblems(c: PipelineConfig): Problem[] {
  return c.task.levels.flatMap((l) => testSplit(l as Level, c.task.testProblems));
}

/**
 * Greedy (temperature 0) solutions of `problems` from the empty prefix, with the eval's depth and step-length
 * limits: the greedy column of every evaluation. `chunk` is how many decode together (rollouts' default 256).
 */
export function greedyRollouts(c: PipelineConfig, policy: Policy, problems: readonly Problem[], seed: string, chunk?: number) {
  return rollouts(policy, judge, problems.map((problem) => ({ problem, prefix: [] })), { sampling: { temperature: 0, maxStepTokens: c.sample.maxStepTokens }, maxDepth: c.eval.maxDepth, seed, ...(chunk ? { chunk } : {}) });
}

/** Sequences one eval decode batch holds at most: a greedy chunk (and 32 problems × N = 8 samples for MAJ@8). */
const EVAL_CHUNK_ROWS = 256;

/** `valueModel` (eval.search 'beam'): the scorer that ranks step-level beam search candidates. */
export async function evaluateCheckpoint(c: PipelineConfig, name: string, label: string, dir: string, tick: Tick, valueModel?: StepScorer): Promise<ModelEval> {
  const problems = testProblems(c);
  const model = loadModel(dir);
  // Room for a whole chunk of sequences at the model's longest, each also holding the copy of its prompt's
  // shared last block (no eviction inside a chunk).
  const policy = policyFor(model, c, EVAL_CHUNK_ROWS * (model.config.maxSeqLen + 16));
  try {
    const N = c.eval.samples;
    const sampled = problems.slice(0, c.eval.sampledProblems || problems.length);
    const total = problems.length + sampled.length;
    const greedy: boolean[] = [];
    const maj: boolean[] = [];
    let hits = 0;
    // Greedy in chunks of EVAL_CHUNK_ROWS problems (one decode batch each), then MAJ@N in chunks of 32 problems.
    for (let at = 0; at < problems.length; at += EVAL_CHUNK_ROWS) {
      const g = await greedyRollouts(c, policy, problems.slice(at, at + EVAL_CHUNK_ROWS), `${c.seed}/eval/greedy/${at}`);
      greedy.push(...g.map((r) => r.correct));
      tick(greedy.length, total);
    }
    for (let at = 0; at < sampled.length; at += 32) {
      const ps = sampled.slice(at, at + 32);
      const s = await rollouts(policy, judge, ps.flatMap((problem) => Array.from({ length: N }, () => ({ problem, prefix: [] }))), { sampling: { maxStepTokens: c.sample.maxStepTokens, temperature: c.eval.temperature }, maxDepth: c.eval.maxDepth, seed: `${c.seed}/eval/maj/${at}`, chunk: 32 * N });
      ps.forEach((p, i) => {
        const mine = s.slice(i * N, (i + 1) * N);
        hits += mine.filter((r) => r.correct).length;
        const answer = aggregate(mine.map((r) => ({ answer: r.answer })), 'maj', judge.same);
        maj.push(answer !== null && judge.same(answer, p.answer));
      });
      tick(problems.length + maj.length, total);
    }
    const acc = (xs: boolean[]) => wilson(xs.filter(Boolean).length, xs.length);
    const beam = valueModel ? await beamAccuracy(c, policy, valueModel, sampled) : undefined;
    return { model: name, label, problems: problems.map((p) => p.id), greedy, maj, ...(beam ? { beam } : {}), sampleAccuracy: hits / (sampled.length * N), accuracy: { greedy: acc(greedy), maj: acc(maj), ...(beam ? { beam: acc(beam) } : {}) }, samples: N };
  } finally {
    policy.dispose();
    model.dispose();
  }
}

/**
 * SBS(B1, B2) (methods.md §5.5) per problem: the top-valued answer is the model's answer, no answer counts as
 * wrong. The value model never sees the gold answer; the judge grades only the answer SBS returns.
 */
async function beamAccuracy(c: PipelineConfig, policy: ReturnType<typeof policyFor>, valueModel: StepScorer, problems: readonly Problem[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const p of problems) {
    const sols = await stepBeamSearch(p, policy, valueModel, judge, { beamWidth: c.eval.beamWidth, samplesPerNode: c.eval.beamSamples, maxDepth: c.eval.maxDepth, sampling: { temperature: c.eval.temperature, maxStepTokens: c.sample.maxStepTokens }, seed: `${c.seed}/eval/beam` });
    out.push(sols[0]?.correct === true);
  }
  return out;
}

/** Greedy accuracy of an in-memory model on the first 32 held-out problems (the trainer's eval hook). */
export async function quickEval(c: PipelineConfig, model: Model): Promise<Record<string, number>> {
  const problems = testProblems(c).slice(0, 32);
  const policy = policyFor(model, c);
  try {
    const g = await greedyRollouts(c, policy, problems, `${c.seed}/eval/hook`);
    return { greedyAccuracy32: g.filter((r) => r.correct).length / g.length };
  } finally {
    policy.dispose();
  }
}

/**
 * `valueModel` builds the beam search's scorer (eval.search 'beam'); it is built once, and only when some
 * model still needs evaluating (a resumed stage with every eval file present trains nothing).
 */
export async function evalStage(c: PipelineConfig, models: { name: string; label: string; dir: string; out: string }[], tick: (model: string) => Tick, valueModel?: () => Promise<StepScorer & { dispose(): void }>): Promise<Record<string, number>> {
  const summary: Record<string, number> = {};
  let scorer: (StepScorer & { dispose(): void }) | undefined;
  try {
    for (const m of models) {
      let r: ModelEval;
      if (existsSync(m.out)) r = JSON.parse(await readFile(m.out, 'utf8')) as ModelEval;
      else {
        if (c.eval.search === 'beam' && !scorer) {
          if (!valueModel) throw new StageError('eval', "eval.search 'beam' needs a value model (the learned PRM); none was given");
          scorer = await valueModel();
        }
        r = await evaluateCheckpoint(c, m.name, m.label, m.dir, tick(m.name), scorer);
        await writeJsonAtomic(m.out, r);
      }
      summary[`${m.name}.greedy`] = r.accuracy.greedy.estimate;
      summary[`${m.name}.maj`] = r.accuracy.maj.estimate;
      if (r.accuracy.beam) summary[`${m.name}.beam`] = r.accuracy.beam.estimate;
    }
  } finally {
    scorer?.dispose();
  }
  return summary;
}

const pct = (x: number) => (100 * x).toFixed(1);

/** What produced the step values, in the report's words. */
export function describeScorer(c: PipelineConfig): string {
  switch (c.score.scorer) {
    case 'oracle':
      return '**ORACLE step checker (upper-bound ablation)**';
    case 'mc':
      return `Monte-Carlo rollouts (${c.score.rollouts} per node, final answers only)`;
    case 'prm':
      return `the learned PRM (${c.score.prmSteps} steps on the round's N = 1 outcome labels, final answers only)`;
    case 'surprise':
      return "the surprise value head (a logistic layer over the policy's own token log-probs, fitted to the round's N = 1 outcome labels, final answers only)";
    case 'outcome':
      return 'outcome labels (final answers only)';
    case 'search':
      return c.sample.sampler === 'mcts'
        ? `MCTS Q values (${c.sample.iterations} iterations, terminal ±1 against the gold answer, rollout leaves)`
        : `the pruned search's Monte-Carlo values (${c.score.rollouts} rollouts per candidate, final answers only)`;
  }
}

/** report.md + report.json + plots from the eval files and metrics.jsonl. */
export async function reportStage(c: PipelineConfig, evalFiles: string[], metricsPath: string, out: { md: string; json: string; accSvg: string; trainSvg: string }, elapsed: Record<string, number>) {
  const evals: ModelEval[] = [];
  for (const f of evalFiles) evals.push(JSON.parse(await readFile(f, 'utf8')) as ModelEval);
  const base = evals[0];
  const N = c.eval.samples;
  const rows = evals.map((e) => ({
    model: e.model,
    label: e.label,
    greedy: e.accuracy.greedy,
    maj: e.accuracy.maj,
    ...(e.accuracy.beam ? { beam: e.accuracy.beam } : {}),
    sampleAccuracy: e.sampleAccuracy,
    vsBase: e === base ? null : { greedy: pairedDifference(base.greedy, e.greedy), maj: pairedDifference(base.maj, e.maj), ...(base.beam && e.beam ? { beam: pairedDifference(base.beam, e.beam) } : {}) },
  }));
  const n = base.problems.length;
  const sbs = `SBS(${c.eval.beamWidth},${c.eval.beamSamples})`;
  const hasBeam = rows.every((r) => r.beam);
  const nSampled = base.maj.length;
  const sampledNote = nSampled < n ? ` MAJ@${N}, sample accuracy${hasBeam ? ' and SBS' : ''} on the first ${nSampled} of them.` : '';
  const lines = [
    `# stepwise pipeline — recipe \`${c.recipe}\``,
    '',
    `Held-out arith-v1 test split, levels ${c.task.levels.join(', ')} (${n} problems). Accuracy in % with 95% Wilson intervals; `
      + `"vs base" is the paired difference on the same problems (95% interval, exact McNemar p). MAJ@${N} samples at temperature ${c.eval.temperature}. `
      + `Step values: ${describeScorer(c)}.${sampledNote}`
      + (hasBeam ? ` ${sbs} = step-level beam search ranked by the learned PRM (${c.score.prmSteps} steps on the round-1 trees' outcome labels; SVPO's value head stands in), top answer.` : ''),
    '',
    `| model | greedy | MAJ@${N} |${hasBeam ? ` ${sbs} |` : ''} sample acc | greedy vs base | MAJ@${N} vs base |${hasBeam ? ` ${sbs} vs base |` : ''}`,
    `|---|---|---|---|---|---|${hasBeam ? '---|---|' : ''}`,
    ...rows.map((r) => `| ${r.label} | ${formatInterval(r.greedy)} | ${formatInterval(r.maj)} |${hasBeam ? ` ${formatInterval(r.beam)} |` : ''} ${pct(r.sampleAccuracy)} | ${r.vsBase ? formatDifference(r.vsBase.greedy) : '—'} | ${r.vsBase ? formatDifference(r.vsBase.maj) : '—'} |${hasBeam ? ` ${r.vsBase?.beam ? formatDifference(r.vsBase.beam) : '—'} |` : ''}`),
    '',
    'Stage wall-clock (s): ' + Object.entries(elapsed).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '),
    '',
    '![accuracy per stage](plots/accuracy.svg)',
    '![training curves](plots/training.svg)',
    '',
  ];
  await writeFileAtomic(out.md, lines.join('\n'));
  await writeJsonAtomic(out.json, { recipe: c.recipe, problems: n, sampledProblems: nSampled, samples: N, rows, elapsedS: elapsed });
  const bars = evals.flatMap((e) => [
    { label: `${e.label} greedy`, interval: e.accuracy.greedy },
    { label: `${e.label} MAJ@${N}`, interval: e.accuracy.maj },
    ...(e.accuracy.beam ? [{ label: `${e.label} ${sbs}`, interval: e.accuracy.beam }] : []),
  ]);
  await writeFileAtomic(out.accSvg, accuracyBarsSvg(`accuracy per stage (${c.recipe})`, bars));
  const { records } = await readJsonl<{ stage: string; kind: string; step: number; loss: number }>(metricsPath);
  const series = [...new Set(records.map((r) => r.stage))].map((s) => ({ name: `${s} loss`, points: records.filter((r) => r.stage === s && r.kind === 'train').map((r): [number, number] => [r.step, r.loss]) }));
  await writeFileAtomic(out.trainSvg, lineChartSvg('training loss per step', series));
  return { markdown: lines.join('\n'), rows };
}
