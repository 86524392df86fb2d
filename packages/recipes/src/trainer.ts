/**
 * The trainer: SFT and preference training over the native engine, with gradient accumulation, the engine's
 * LR schedules, an eval hook, per-step metrics in metrics.jsonl, atomic checkpoints and EXACT resume.
 *
 * Exact resume rests on one rule: everything a step does is a function of (config, data, step). The data
 * order of epoch e is Rng(`${seed}/epoch/${e}`).shuffle(…), so the examples of optimizer step s are found from
 * s alone (no RNG state to save); the reference log-probs are computed in fixed chunks before step 0 and
 * cached on disk; the checkpoint holds model + optimizer (moments, step count) + trainer.json (step). A run
 * killed anywhere and restarted therefore replays the same steps on the same numbers. Metrics lines written
 * after the last checkpoint are dropped on resume and written again, so none is lost or duplicated.
 *
 * Layout of `dir` (ckpt/<stage>/): resume/ (model.safetensors, config.json, optimizer.safetensors,
 * trainer.json) while training; model.safetensors + config.json + train-summary.json when done;
 * ref-logps.jsonl (the reference cache).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, JsonlWriter, readJsonl, Rng, writeFileAtomic, writeJsonAtomic, type PreferencePair, type Tokenizer } from '@stepwise/core';
import { loadModel, loadOptimizer, lrSchedule, maskedCrossEntropy, type Model, Optimizer, saveModel, saveOptimizer } from '@stepwise/native';
import { buildPairBatch, fixedMarginDpoLoss, forwardPairs, pairLoss, refLogpsFromTokens, referenceInputs, RefLogpCache, withChosenNll, type LossResult, type PairLoss } from '@stepwise/train';
import { StageError } from './errors.js';
import { forTraining, packSft, type SftExample } from './examples.js';
import type { TrainerConfig } from './trainer-config.js';

export interface StepMetrics {
  stage: string;
  kind: 'train';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  examples: number;
  tokens: number;
  /** Positions the policy forward computed (all of them for SFT; preference: a shared prefix counts once). */
  forwardTokens: number;
  /** Wall-clock dependent: excluded when comparing runs. */
  tokensPerS: number;
  /** Preference objectives: mean over the step's pairs (packages/train's metric names). */
  rewardAccuracy?: number;
  chosenReward?: number;
  rejectedReward?: number;
  rewardMargin?: number;
  meanMargin?: number;
  /** chosenNll > 0: the chosen completions' mean per-token NLL (the term added to the loss, before its weight). */
  chosenNll?: number;
}

export interface TrainOptions {
  /** Checkpoint the stage starts from; it is also the frozen reference of preference objectives. */
  initDir: string;
  tokenizer: Tokenizer;
  /** Pairs (preference objectives) or SFT examples ('sft'), in a fixed order. */
  data: readonly PreferencePair[] | readonly SftExample[];
  config: TrainerConfig;
  /** The stage's checkpoint directory (ckpt/<stage>). */
  dir: string;
  /** Shared metrics.jsonl of the run. */
  metricsPath: string;
  stage: string;
  /** Called every config.evalEvery steps and at the end; its numbers go to metrics.jsonl (kind 'eval'). */
  onEval?: (model: Model, step: number) => Promise<Record<string, number>>;
  onStep?: (m: StepMetrics, totalSteps: number) => void;
  /** Stop (without finishing) after this many optimizer steps in this call: the tests' stand-in for a kill. */
  stopAfterSteps?: number;
}

export interface TrainResult {
  steps: number;
  finished: boolean;
  resumedFrom: number;
  finalLoss: number;
}

interface TrainerState {
  schema: 'stepwise.trainer-state@1';
  step: number;
  fingerprint: string;
}

/** Which examples optimizer step `s` trains on: [microBatch][example index]. */
export function stepExamples(n: number, c: TrainerConfig, s: number): number[][] {
  const perStep = c.batchSize * c.gradAccum;
  const total = n * c.epochs;
  const out: number[][] = [];
  const orders = new Map<number, number[]>();
  for (let m = 0; m < c.gradAccum; m++) {
    const micro: number[] = [];
    for (let j = 0; j < c.batchSize; j++) {
      const i = s * perStep + m * c.batchSize + j;
      if (i >= total) break;
      const e = Math.floor(i / n);
      if (!orders.has(e)) orders.set(e, new Rng(`${c.seed}/epoch/${e}`).shuffle([...Array(n).keys()]));
      micro.push(orders.get(e)![i % n]);
    }
    if (micro.length > 0) out.push(micro);
  }
  return out;
}

export function totalSteps(n: number, c: TrainerConfig): number {
  return Math.ceil((n * c.epochs) / (c.batchSize * c.gradAccum));
}

function scheduleOf(c: TrainerConfig, steps: number) {
  const warmupSteps = Math.min(Math.round(c.warmupRatio * steps), Math.max(0, steps - 1));
  return c.schedule === 'constant' ? lrSchedule({ kind: 'constant', lr: c.lr, warmupSteps }) : lrSchedule({ kind: c.schedule, lr: c.lr, warmupSteps, totalSteps: Math.max(steps, warmupSteps + 1), minLr: c.minLr });
}

/** The preference loss of the config: the objective, then the optional chosen-side NLL term. */
function lossOf(c: TrainerConfig, pairs: readonly PreferencePair[]): PairLoss {
  return withChosenNll(pairObjective(c, pairs), c.chosenNll);
}

/** The objective's pair loss (margin variants composed from packages/train). */
function pairObjective(c: TrainerConfig, pairs: readonly PreferencePair[]): PairLoss {
  switch (c.objective) {
    case 'sppd': {
      if (c.margin === 'dynamic') return pairLoss('sppd', { beta: c.beta, gamma: c.gamma });
      if (c.margin === 'none') return pairLoss('step-dpo', { beta: c.beta });
      let sum = 0;
      for (const p of pairs) if (p.schema === 'stepwise.step-pair@1') sum += c.gamma * ((p.chosenValue ?? 0) - (p.rejectedValue ?? 0));
      const margin = pairs.length ? sum / pairs.length : 0;
      return (ctx) => fixedMarginDpoLoss({ policy: ctx.sums, reference: ctx.reference }, { beta: c.beta, margin });
    }
    case 'full-step-dpo':
      return pairLoss('full-step-dpo', { beta: c.beta, gamma: c.gamma });
    case 'ipo':
      return pairLoss('ipo', { beta: c.beta });
    case 'dpo':
    case 'step-dpo':
      return pairLoss(c.objective, { beta: c.beta });
    default:
      throw new StageError('train', `objective ${c.objective} is not a preference objective`);
  }
}

/** Identifies what a checkpoint was trained on: resuming under other data or config is refused. */
function fingerprint(c: TrainerConfig, data: readonly unknown[]): string {
  const h = createHash('sha256').update(JSON.stringify(c));
  for (const d of data) h.update(JSON.stringify(d));
  return h.digest('hex').slice(0, 32);
}

async function writeResume(dir: string, model: Model, opt: Optimizer, state: TrainerState): Promise<void> {
  const [tmp, cur, old] = ['resume.tmp', 'resume', 'resume.old'].map((d) => join(dir, d));
  await rm(tmp, { recursive: true, force: true });
  await rm(old, { recursive: true, force: true });
  saveModel(model, tmp);
  saveOptimizer(opt, tmp);
  await writeJsonAtomic(join(tmp, 'trainer.json'), state);
  // Swap directories: at every instant either resume/ or resume.old/ is a whole checkpoint.
  if (existsSync(cur)) await rename(cur, old);
  await rename(tmp, cur);
  await fsyncDir(dir);
  await rm(old, { recursive: true, force: true });
}

function resumeDir(dir: string): string | null {
  for (const d of ['resume', 'resume.old']) if (existsSync(join(dir, d, 'trainer.json'))) return join(dir, d);
  return null;
}

/** Drops this stage's metrics after `fromStep` (1-based step numbers) (they are recomputed), rewriting the file atomically. */
async function trimMetrics(path: string, stage: string, fromStep: number): Promise<void> {
  const { records, truncatedTail } = await readJsonl<{ stage?: string; step?: number }>(path);
  const keep = records.filter((r) => !(r.stage === stage && (r.step ?? 0) > fromStep));
  if (keep.length !== records.length || truncatedTail) await writeFileAtomic(path, keep.map((r) => JSON.stringify(r) + '\n').join(''));
}

/** Reference completion log-probs of every pair, computed chunk by chunk with the frozen initial model. */
async function referenceLogps(ref: Model, tokenizer: Tokenizer, pairs: readonly PreferencePair[], c: TrainerConfig, dir: string, initDir: string) {
  const perToken = c.objective === 'full-step-dpo';
  // sharePrefix is part of the key: the two packings agree only to float32 rounding.
  const context = `ref=${initDir}|tok=${tokenizer.name}|perToken=${perToken}${c.sharePrefix ? '|sharePrefix' : ''}`;
  const cache = await RefLogpCache.open(join(dir, 'ref-logps.jsonl'), { context, perToken });
  try {
    const all = [];
    for (let i = 0; i < pairs.length; i += c.refChunk) {
      const chunk = pairs.slice(i, i + c.refChunk);
      all.push(
        ...(await cache.ensure(chunk, async (missing) => {
          const b = buildPairBatch(tokenizer, missing);
          const f = await forwardPairs(ref, b, { sharePrefix: c.sharePrefix });
          return refLogpsFromTokens(b, f.tokenLogps, perToken);
        })),
      );
    }
    return all;
  } finally {
    await cache.close();
  }
}

const add = (acc: Record<string, number>, m: Record<string, number>, w: number) => {
  for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) acc[k] = (acc[k] ?? 0) + v * w;
};

export async function train(o: TrainOptions): Promise<TrainResult> {
  const c = o.config;
  const isSft = c.objective === 'sft';
  const n = o.data.length;
  if (n === 0) throw new StageError(o.stage, 'no training examples (the pairs stage selected none)');
  const steps = totalSteps(n, c);
  const print = fingerprint(c, o.data as readonly unknown[]);
  const resume = resumeDir(o.dir);
  let start = 0;
  let model: Model;
  let opt: Optimizer;
  if (resume) {
    const st = JSON.parse(await readFile(join(resume, 'trainer.json'), 'utf8')) as TrainerState;
    if (st.fingerprint !== print) throw new StageError(o.stage, `${resume} was written for other data or config; delete ${o.dir} to retrain`);
    model = loadModel(resume);
    opt = loadOptimizer(model, resume);
    start = st.step;
  } else {
    model = loadModel(o.initDir);
    opt = new Optimizer(model, { kind: c.optimizer, lr: c.lr, weightDecay: c.weightDecay, momentum: c.momentum, maxGradNorm: c.maxGradNorm });
  }
  await trimMetrics(o.metricsPath, o.stage, start);
  const metrics = await JsonlWriter.open(o.metricsPath, { durability: 'batch' });
  const schedule = scheduleOf(c, steps);
  const pairs = isSft ? [] : (o.data as readonly PreferencePair[]).map(forTraining);
  let refs: Awaited<ReturnType<typeof referenceLogps>> = [];
  if (!isSft) {
    const ref = loadModel(o.initDir);
    try {
      refs = await referenceLogps(ref, o.tokenizer, pairs, c, o.dir, o.initDir);
    } finally {
      ref.dispose();
    }
  }
  const loss = isSft ? null : lossOf(c, o.data as readonly PreferencePair[]);
  const evalNow = async (step: number) => {
    if (!o.onEval) return;
    await metrics.append({ stage: o.stage, kind: 'eval', step, ...(await o.onEval(model, step)) });
  };
  let finalLoss = NaN;
  let done = 0;
  try {
    for (let s = start; s < steps; s++) {
      if (o.stopAfterSteps !== undefined && done >= o.stopAfterSteps) return { steps: s, finished: false, resumedFrom: start, finalLoss };
      const t0 = performance.now();
      const micro = stepExamples(n, c, s);
      const stepExamplesCount = micro.reduce((a, m) => a + m.length, 0);
      model.zeroGrad();
      const acc: Record<string, number> = {};
      let lossSum = 0;
      let tokens = 0;
      let forwardTokens = 0;
      if (isSft) {
        const packed = micro.map((m) => packSft(o.tokenizer, m.map((i) => (o.data as readonly SftExample[])[i])));
        const stepTokens = packed.reduce((a, p) => a + p.mask.reduce((x, y) => x + y, 0), 0);
        for (const p of packed) {
          const out = await model.forward({ tokens: p.tokens, offsets: p.offsets });
          const ce = maskedCrossEntropy(out, p.mask);
          const w = ce.count / stepTokens; // token-weighted: the step's gradient is the mean over all its tokens
          await model.backward(out, { gradToken: ce.gradToken.map((g) => g * w) });
          lossSum += ce.loss * w;
          tokens += ce.count;
          forwardTokens += p.tokens.length;
        }
      } else {
        for (const m of micro) {
          const batch = buildPairBatch(o.tokenizer, m.map((i) => pairs[i]));
          const { reference, refTokenLogps } = referenceInputs(batch, m.map((i) => refs[i]));
          const f = await forwardPairs(model, batch, { sharePrefix: c.sharePrefix });
          const r: LossResult = loss!({ batch, tokenLogps: f.tokenLogps, sums: f.sums, reference, refTokenLogps });
          const w = m.length / stepExamplesCount; // pair-weighted mean over the whole step
          await f.backward({
            ...(r.gradToken ? { gradToken: Float64Array.from(r.gradToken, (g) => g * w) } : {}),
            ...(r.gradStep ? { gradStep: Float64Array.from(r.gradStep, (g) => g * w) } : {}),
          });
          lossSum += r.loss * w;
          add(acc, r.metrics, w);
          tokens += batch.completionTokens.reduce((a, x) => a + x, 0);
          forwardTokens += f.layout.forward.tokens.length;
        }
      }
      const info = await opt.step(schedule(s));
      finalLoss = lossSum;
      const row: StepMetrics = {
        stage: o.stage,
        kind: 'train',
        step: s + 1,
        epoch: Math.floor((s * c.batchSize * c.gradAccum) / n),
        loss: lossSum,
        lr: opt.lr,
        gradNorm: info.gradNorm,
        examples: stepExamplesCount,
        tokens,
        forwardTokens,
        tokensPerS: tokens / ((performance.now() - t0) / 1000),
      };
      for (const k of ['rewardAccuracy', 'chosenReward', 'rejectedReward', 'rewardMargin', 'meanMargin', 'chosenNll'] as const) if (acc[k] !== undefined) row[k] = acc[k];
      await metrics.append(row);
      o.onStep?.(row, steps);
      done++;
      if (c.evalEvery > 0 && (s + 1) % c.evalEvery === 0 && s + 1 < steps) await evalNow(s + 1);
      if (c.checkpointEvery > 0 && (s + 1) % c.checkpointEvery === 0 && s + 1 < steps) {
        await metrics.flush(); // metrics first: a checkpoint never claims steps whose metrics are not on disk
        await writeResume(o.dir, model, opt, { schema: 'stepwise.trainer-state@1', step: s + 1, fingerprint: print });
      }
    }
    await evalNow(steps);
    await metrics.flush();
    saveModel(model, o.dir);
    await writeJsonAtomic(join(o.dir, 'train-summary.json'), { stage: o.stage, steps, examples: n, config: c, finalLoss });
    for (const d of ['resume', 'resume.old', 'resume.tmp']) await rm(join(o.dir, d), { recursive: true, force: true });
    return { steps, finished: true, resumedFrom: start, finalLoss };
  } finally {
    await metrics.close();
    opt.dispose();
    model.dispose();
  }
}
