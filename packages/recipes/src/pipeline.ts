/**
 * The pipeline in a run directory (architecture.md §1): base → per round: sample → score → pairs → train
 * stages → eval → report. Every stage goes through core's RunDir.runStage, so a complete stage is skipped
 * (its outputs re-hashed), an interrupted one is re-entered and continues from its partial output, and the
 * manifest records config, seeds, code version and per-stage status and hashes.
 *
 * File layout: ckpt/base/, trees.jsonl, scored.jsonl, pairs.jsonl (round 1; round k adds "-r<k>"),
 * ckpt/<stage>/, metrics.jsonl, eval/<model>.json, report.md, report.json, plots/*.svg.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readJsonl, RunDir, validateTree, writeJsonAtomic, type PreferencePair, type Tree } from '@stepwise/core';
import { trainBaseModel, type TrainBaseResult, type TrainProgress } from '@stepwise/backends';
import { saveModel } from '@stepwise/native';
import type { Level } from '@stepwise/tasks';
import { RULE_OF, validateConfig, type PipelineConfig } from './config.js';
import { pairsStage, sampleStage, scoreStage, tokenizer, trainProblems } from './data-stages.js';
import { learnedPrm } from './prm-values.js';
import { StageError } from './errors.js';
import { evalStage, quickEval, reportStage } from './eval-report.js';
import { sftExamplesFromPairs } from './examples.js';
import { Progress } from './progress.js';
import { train } from './trainer.js';
import type { TrainerConfig } from './trainer-config.js';
import { stageTimes } from './stage-times.js';

export type StageName = 'base' | 'sample' | 'score' | 'pairs' | 'train' | 'eval' | 'report';

export interface PipelineOptions {
  /** Run directory. */
  out: string;
  /** Run only these kinds of stage (their inputs must exist). Default: all. */
  only?: readonly StageName[];
  /** Write progress lines (ETA) — the CLI passes stdout.isTTY. */
  progress?: boolean;
  /** One line per finished stage (the CLI prints them; quiet by default). */
  log?: (line: string) => void;
  /**
   * A base checkpoint (ckpt/base of another run) trained with this run's `base` config and task levels: the
   * base stage copies it instead of retraining (the training is deterministic, so the weights are the same).
   * `--recipe all` passes the first recipe's so ten recipes train one base model.
   */
  sharedBase?: string;
}

/** Marker in ckpt/<stage>/ of a train stage that had no pairs (its model is a copy of its input). */
export const UNTRAINED = 'untrained.json';

/**
 * The base stage's training for config `c` (also used by packages/recipes/scripts/base-sweep.mjs): the corpus of
 * the task's levels only (shorter sequences, the skills the test asks for), the config's schedule and model
 * shape, and context 272 = the task's 256 characters + BOS + EOS rounded up to cache blocks.
 */
export function trainConfigBase(c: PipelineConfig, onProgress?: (p: TrainProgress) => void): Promise<TrainBaseResult> {
  return trainBaseModel({
    steps: c.base.steps, batchSize: c.base.batchSize, lr: c.base.lr, warmupSteps: c.base.warmupSteps, seed: c.base.seed,
    corpus: { levels: c.task.levels as Level[] },
    model: { ...c.base.model, maxSeqLen: 272 },
    onProgress,
  });
}

const suffix = (round: number) => (round === 1 ? '' : `-r${round}`);

/** Stage names in run order (the manifest lists them all up front). */
export function stagePlan(c: PipelineConfig): string[] {
  const names = ['base'];
  c.rounds.forEach((r, i) => {
    const s = suffix(i + 1);
    names.push(`sample${s}`, `score${s}`, `pairs${s}`, ...r.train.map((t) => `train-${t.name}`));
  });
  return [...names, 'eval', 'report'];
}

export async function runPipeline(c: PipelineConfig, o: PipelineOptions): Promise<{ markdown: string } | null> {
  const run = await RunDir.open(o.out, {
    config: c as unknown as Record<string, unknown>,
    seeds: { seed: c.seed, base: c.base.seed },
    stages: stagePlan(c),
    // Fields added since the run was created get their defaults, so an older run still resumes.
    normalizeConfig: (stored) => validateConfig(stored as unknown as PipelineConfig),
  });
  const wants = (k: StageName) => !o.only || o.only.includes(k);
  const log = o.log ?? (() => undefined);
  const timed = async (name: string, kind: StageName, fn: Parameters<RunDir['runStage']>[1]) => {
    if (!wants(kind)) return;
    const t0 = performance.now();
    const r = await run.runStage(name, fn);
    log(`${name}: ${r.skipped ? 'complete (skipped)' : `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`} ${JSON.stringify(r.record.summary ?? {})}`);
  };
  const progress = (label: string) => new Progress(label, !!o.progress);
  const need = (rel: string, stage: string) => {
    if (!existsSync(run.path(rel))) throw new StageError(stage, `needs ${rel} from an earlier stage; run the earlier stages first`);
    return run.path(rel);
  };
  try {
    await timed('base', 'base', async (ctx) => {
      const dir = ctx.output('ckpt/base');
      if (o.sharedBase) {
        if (!existsSync(join(o.sharedBase, 'config.json'))) throw new StageError('base', `shared base ${o.sharedBase} has no config.json`);
        await cp(o.sharedBase, dir, { recursive: true });
        return { copiedFrom: o.sharedBase };
      }
      const p = progress('base');
      // Not checkpointed mid-way: a resumed base stage retrains from step 0 (deterministic, same weights).
      const r = await trainConfigBase(c, (q) => p.tick(q.step + 1, q.totalSteps, `loss ${q.loss.toFixed(3)}`));
      p.end();
      saveModel(r.model, dir);
      r.model.dispose();
      return { steps: c.base.steps, finalLoss: r.losses.at(-1) ?? NaN, params: r.numParams };
    });
    const modelDirs: { name: string; label: string; dir: string }[] = [{ name: 'base', label: 'base', dir: run.path('ckpt/base') }];
    let policyDir = run.path('ckpt/base');
    for (const [ri, round] of c.rounds.entries()) {
      const r = ri + 1;
      const s = suffix(r);
      const sampler = policyDir;
      await timed(`sample${s}`, 'sample', async (ctx) => {
        need(`${relative(run.root, sampler)}/config.json`, `sample${s}`);
        const p = progress(`sample${s}`);
        const res = await sampleStage(c, r, sampler, ctx.output(`trees${s}.jsonl`), (d, t) => p.tick(d, t));
        p.end();
        return res;
      });
      await timed(`score${s}`, 'score', async (ctx) => {
        const p = progress(`score${s}`);
        const res = await scoreStage(c, r, sampler, need(`trees${s}.jsonl`, `score${s}`), ctx.output(`scored${s}.jsonl`), (d, t) => p.tick(d, t), c.score.scorer === 'prm' ? ctx.output(`ckpt/prm${s}`) : run.path(`ckpt/prm${s}`));
        p.end();
        return res;
      });
      await timed(`pairs${s}`, 'pairs', async (ctx) => pairsStage(c, r, round.train.map((t) => t.data), need(`scored${s}.jsonl`, `pairs${s}`), ctx.output(`pairs${s}.jsonl`)));
      for (const st of round.train) {
        const init = policyDir;
        const dir = run.path(`ckpt/${st.name}`);
        await timed(`train-${st.name}`, 'train', async (ctx) => {
          need(`${relative(run.root, init)}/config.json`, `train-${st.name}`);
          ctx.output(`ckpt/${st.name}`);
          const { records } = await readJsonl<PreferencePair>(need(`pairs${s}.jsonl`, `train-${st.name}`));
          const pairs = records.filter((p) => p.rule === RULE_OF[st.data]);
          const data = st.train.objective === 'sft' ? sftExamplesFromPairs(pairs) : pairs;
          if (data.length === 0) {
            // Nothing to learn from (a weak policy found no correct solution to contrast, or a flat scorer gave
            // no value gaps): the stage's model is its input, marked so the report says it was not trained,
            // and the later stages and the other models' evaluations still run.
            await mkdir(dir, { recursive: true });
            for (const f of ['config.json', 'model.safetensors']) await cp(join(init, f), join(dir, f));
            const reason = `no '${st.data}' pairs in pairs${s}.jsonl`;
            await writeJsonAtomic(join(dir, UNTRAINED), { reason, copiedFrom: relative(run.root, init) });
            return { examples: 0, steps: 0, untrained: reason };
          }
          const p = progress(`train-${st.name}`);
          const res = await train({ initDir: init, tokenizer, data, config: st.train as TrainerConfig, dir, metricsPath: run.path('metrics.jsonl'), stage: st.name, onStep: (m, total) => p.tick(m.step, total, `loss ${m.loss.toFixed(4)}`),
            // The periodic eval hook (train.evalEvery > 0): greedy accuracy on the first 32 held-out problems.
            ...(st.train.evalEvery ? { onEval: (model) => quickEval(c, model) } : {}),
          });
          p.end();
          return { examples: data.length, steps: res.steps, finalLoss: res.finalLoss };
        });
        const untrained = existsSync(join(dir, UNTRAINED));
        modelDirs.push({ name: st.name, label: untrained ? `${st.label} (not trained: no pairs)` : st.label, dir });
        policyDir = dir;
      }
    }
    const evalOut = modelDirs.map((m) => ({ ...m, out: run.path(`eval/${m.name}.json`) }));
    await timed('eval', 'eval', async (ctx) => {
      for (const m of evalOut) {
        need(`${relative(run.root, m.dir)}/config.json`, 'eval');
        ctx.output(`eval/${m.name}.json`);
      }
      // eval.search 'beam': the value model is the learned PRM, trained from the base model on the round-1
      // trees' final-answer labels (seeded, so a resumed eval stage trains the same weights).
      const valueModel = async () => {
        const { records } = await readJsonl<Tree>(need('trees.jsonl', 'eval'), { validate: (v) => validateTree(v) });
        return learnedPrm(c, run.path('ckpt/base'), records, new Map(trainProblems(c, 1).map((p) => [p.id, p])), ctx.output('ckpt/prm-eval'));
      };
      return evalStage(c, evalOut, (name) => {
        const p = progress(`eval ${name}`);
        return (d, t) => (p.tick(d, t), d === t && p.end());
      }, valueModel);
    });
    let markdown: string | null = null;
    await timed('report', 'report', async (ctx) => {
      // Every finished stage's time from the manifest, so a resumed run reports the stages of earlier attempts too.
      const times = (await stageTimes(o.out)) ?? {};
      delete times.report; // a report of an earlier attempt, if any; this one is not finished
      const r = await reportStage(c, evalOut.map((m) => m.out), run.path('metrics.jsonl'), { md: ctx.output('report.md'), json: ctx.output('report.json'), accSvg: ctx.output('plots/accuracy.svg'), trainSvg: ctx.output('plots/training.svg') }, times);
      markdown = r.markdown;
    });
    if (markdown === null && existsSync(run.path('report.md'))) markdown = readFileSync(run.path('report.md'), 'utf8');
    return markdown === null ? null : { markdown };
  } finally {
    await run.close();
  }
}

/** Removes a run directory (used by tests and `--fresh`). */
export async function removeRun(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
