/** The PRM training loop: AdamW, warmup + cosine, seeded shuffling, progress callback, checkpoints. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CharTokenizer, Rng } from '@stepwise/core';
import { type Model, Optimizer, lrSchedule, saveModel, saveOptimizer } from '@stepwise/native';

import { buildPrmBatch, encodeSolution, labelIds, type PrmExample, type PrmObjective } from './encode.js';
import { PrmArgumentError } from './errors.js';
import { prmLoss } from './loss.js';

export interface TrainPrmProgress {
  step: number;
  totalSteps: number;
  loss: number;
  stepLoss: number;
  lmLoss: number;
  lr: number;
  gradNorm: number;
  examplesSeen: number;
  elapsedMs: number;
}

export interface TrainPrmOptions {
  /** The model to train in place: from scratch (Model.create) or from a checkpoint (loadModel, e.g. the base model). */
  model: Model;
  examples: readonly PrmExample[];
  /** Optimizer steps. */
  steps: number;
  /** Solutions per step. Default 16. */
  batchSize?: number;
  /** Default 'bce' (exact two-way softmax over the label logits). */
  objective?: PrmObjective;
  /** Peak learning rate. Default 1e-3. */
  lr?: number;
  /** Default: 5% of steps. */
  warmupSteps?: number;
  /** Cosine floor. Default lr / 10. */
  minLr?: number;
  /** Default 0.01. */
  weightDecay?: number;
  /** Default 1. */
  maxGradNorm?: number;
  /** Weight of the auxiliary next-token loss on solution characters (0 = off). Default 0. */
  lmWeight?: number;
  /** Seed of the example order. Default 0. */
  seed?: number | string;
  tokenizer?: CharTokenizer;
  onProgress?: (p: TrainPrmProgress) => void | Promise<void>;
  /** Writes `step-<n>/` (model + optimizer + prm.json) every checkpointEvery steps and `final/` at the end. */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stops early (after a whole step) when this returns true, e.g. a wall-clock budget. */
  shouldStop?: (step: number) => boolean;
}

export interface TrainPrmResult {
  stepsDone: number;
  losses: number[];
  optimizer: Optimizer;
}

const posInt = (name: string, v: number) => {
  if (!Number.isInteger(v) || v < 1) throw new PrmArgumentError(name, 'a positive integer', v);
};

export async function trainPrm(opts: TrainPrmOptions): Promise<TrainPrmResult> {
  const { model, examples } = opts;
  posInt('steps', opts.steps);
  const batchSize = opts.batchSize ?? 16;
  posInt('batchSize', batchSize);
  if (!Array.isArray(examples) || examples.length === 0) throw new PrmArgumentError('examples', 'a non-empty array of PrmExample');
  const objective = opts.objective ?? 'bce';
  const lr = opts.lr ?? 1e-3;
  const warmupSteps = opts.warmupSteps ?? Math.floor(opts.steps * 0.05);
  const lmWeight = opts.lmWeight ?? 0;
  if (!(lmWeight >= 0 && Number.isFinite(lmWeight))) throw new PrmArgumentError('lmWeight', 'a finite number >= 0', lmWeight);
  const tokenizer = opts.tokenizer ?? new CharTokenizer();
  const ids = labelIds(tokenizer);
  // Encode once up front: bad inputs fail before any training time is spent.
  const encoded = examples.map((e, i) => {
    if (e.labels.length !== e.steps.length) throw new PrmArgumentError(`examples[${i}].labels`, `${e.steps.length} labels`, e.labels.length);
    return encodeSolution(tokenizer, e.problem.question, e.steps, model.config.maxSeqLen);
  });
  const optimizer = new Optimizer(model, { kind: 'adamw', lr, weightDecay: opts.weightDecay ?? 0.01, maxGradNorm: opts.maxGradNorm ?? 1 });
  const schedule = lrSchedule({ kind: 'cosine', lr, warmupSteps, totalSteps: Math.max(opts.steps, warmupSteps + 1), minLr: opts.minLr ?? lr / 10 });
  const rng = new Rng(`prm-train|${opts.seed ?? 0}`);
  let order: number[] = [];
  let cursor = 0;
  const next = () => {
    if (cursor >= order.length) {
      order = rng.shuffle(Array.from({ length: encoded.length }, (_, i) => i));
      cursor = 0;
    }
    return order[cursor++]!;
  };
  const save = (dir: string, step: number) => {
    saveModel(model, dir);
    saveOptimizer(optimizer, dir);
    writeFileSync(join(dir, 'prm.json'), JSON.stringify({ kind: 'stepwise.prm@1', labelGood: '+', labelBad: '-', objective, lmWeight, step, tokenizer: tokenizer.name }, null, 2) + '\n');
  };
  const losses: number[] = [];
  const t0 = Date.now();
  let step = 0;
  for (; step < opts.steps; step++) {
    if (opts.shouldStop?.(step)) break;
    const picked = Array.from({ length: Math.min(batchSize, encoded.length) }, next);
    const labels = picked.map((i) => examples[i]!.labels);
    const plan = buildPrmBatch(picked.map((i) => encoded[i]!), labels, ids, objective, lmWeight > 0);
    model.zeroGrad();
    const out = await model.forward(plan.batch);
    const { loss, stepLoss, lmLoss, gradToken } = prmLoss(out, plan, labels, lmWeight);
    await model.backward(out, { gradToken });
    const rate = schedule(step);
    const info = await optimizer.step(rate);
    losses.push(loss);
    await opts.onProgress?.({ step: step + 1, totalSteps: opts.steps, loss, stepLoss, lmLoss, lr: rate, gradNorm: info.gradNorm, examplesSeen: (step + 1) * picked.length, elapsedMs: Date.now() - t0 });
    if (opts.checkpointDir && opts.checkpointEvery && (step + 1) % opts.checkpointEvery === 0) save(join(opts.checkpointDir, `step-${step + 1}`), step + 1);
  }
  if (opts.checkpointDir) save(join(opts.checkpointDir, 'final'), step);
  return { stepsDone: step, losses, optimizer };
}
