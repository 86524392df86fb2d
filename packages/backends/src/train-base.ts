/**
 * Base-model pre-training on the embedded task's imperfect-solution corpus (tasks §3).
 *
 * Each training string is [BOS] question "\n" solution [EOS] (the same layout EnginePolicy conditions on), and
 * the loss is next-token cross-entropy on the solution tokens and EOS only: the question is given, not learned,
 * exactly as in SFT. Records are streamed by index (corpusRecord), so every step sees fresh problems and a run
 * resumed at step s reads the same records as an uninterrupted one.
 */
import { join } from 'node:path';

import { CharTokenizer, type Tokenizer } from '@stepwise/core';
import {
  lrSchedule,
  maskedCrossEntropy,
  Model,
  type ModelConfig,
  Optimizer,
  packSequences,
  saveModel,
} from '@stepwise/native';
import { type CorpusOptions, corpusRecord, promptText } from '@stepwise/tasks';

import { BackendArgumentError, requireNonNegInt, requirePosInt, requireRange } from './errors.js';

/**
 * The default base model: char-level Llama, d_model 128, 4 layers, 4 heads (head dim 32), SwiGLU 352, context
 * 256, tied embeddings: 816,640 parameters. Chosen so that a few hundred steps on 2 shared cores learn the
 * step format and most small-number arithmetic, while multi-digit * and / stay error-prone.
 */
export const BASE_MODEL_CONFIG: Readonly<ModelConfig> = {
  vocabSize: 99,
  hiddenSize: 128,
  intermediateSize: 352,
  numLayers: 4,
  numHeads: 4,
  maxSeqLen: 256,
  tieEmbeddings: true,
};

export interface TrainProgress {
  step: number;
  totalSteps: number;
  /** Mean masked cross-entropy (nats per solution token) of this step's batch. */
  loss: number;
  lr: number;
  gradNorm: number;
  /** Solution tokens trained on so far. */
  tokens: number;
  elapsedS: number;
}

export interface TrainBaseOptions {
  /** Model shape (merged over BASE_MODEL_CONFIG). */
  model?: Partial<ModelConfig>;
  /** Optimizer steps. Default 1000. */
  steps?: number;
  /** Corpus records per step. Default 16. */
  batchSize?: number;
  /** Peak learning rate (AdamW). Default 2e-3. */
  lr?: number;
  /** Linear warmup steps, then cosine decay to minLr at `steps`. Default 50. */
  warmupSteps?: number;
  /** Default 1e-4. */
  minLr?: number;
  /** AdamW decoupled weight decay. Default 0.1. */
  weightDecay?: number;
  /** Global gradient-norm clip. Default 1. */
  maxGradNorm?: number;
  /** Seeds the initialisation. Default 0. */
  seed?: number;
  /** Corpus (tasks' options); default { seed: 0, errorRate: 0.15 } over all four levels. */
  corpus?: Partial<CorpusOptions>;
  /** Where checkpoints go (`<outDir>/step-<n>` every checkpointEvery steps and `<outDir>/final`). Optional. */
  outDir?: string;
  /** Default 0 (only the final checkpoint). */
  checkpointEvery?: number;
  /** Called after every step. */
  onProgress?: (p: TrainProgress) => void;
  /** Continue from this model (e.g. a loaded checkpoint) instead of a fresh one; its config wins. */
  init?: Model;
  /** First step index (records are drawn from step * batchSize on). Default 0. */
  startStep?: number;
}

export interface TrainBaseResult {
  model: Model;
  losses: number[];
  tokens: number;
  numParams: number;
  /** Unigram entropy (nats/token) of the solution tokens the run trained on: the loss a model without context reaches. */
  unigramEntropy: number;
  elapsedS: number;
}

/** Token ids and the loss mask of one training string: mask[t] = token t+1 belongs to the solution or EOS. */
export function encodeTrainingExample(
  tok: Tokenizer,
  question: string,
  solution: string,
): { ids: number[]; mask: Uint8Array; promptLength: number } {
  if (tok.bosId === null || tok.eosId === null) throw new BackendArgumentError('tokenizer', 'a tokenizer with BOS and EOS ids');
  const prompt = [tok.bosId, ...tok.encode(promptText(question))];
  const ids = [...prompt, ...tok.encode(solution), tok.eosId];
  const mask = new Uint8Array(ids.length);
  for (let t = prompt.length - 1; t < ids.length - 1; t++) mask[t] = 1;
  return { ids, mask, promptLength: prompt.length };
}

/** Accumulates a unigram histogram of target tokens and returns its entropy in nats. */
export class UnigramCounter {
  private readonly counts = new Map<number, number>();
  private total = 0;
  add(id: number): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.total++;
  }
  entropy(): number {
    let h = 0;
    for (const c of this.counts.values()) {
      const p = c / this.total;
      h -= p * Math.log(p);
    }
    return h;
  }
}

export async function trainBaseModel(opts: TrainBaseOptions = {}): Promise<TrainBaseResult> {
  const steps = requirePosInt('steps', opts.steps ?? 1000);
  const batchSize = requirePosInt('batchSize', opts.batchSize ?? 16);
  const lr = requireRange('lr', opts.lr ?? 2e-3, 0, 1);
  const warmupSteps = requireNonNegInt('warmupSteps', opts.warmupSteps ?? 50);
  if (warmupSteps >= steps) throw new BackendArgumentError('warmupSteps', `fewer than steps (${steps})`, warmupSteps);
  const startStep = requireNonNegInt('startStep', opts.startStep ?? 0);
  const checkpointEvery = requireNonNegInt('checkpointEvery', opts.checkpointEvery ?? 0);
  const corpusOpts: CorpusOptions = { seed: 0, errorRate: 0.15, ...opts.corpus } as CorpusOptions;
  const tok = new CharTokenizer();
  const model = opts.init ?? Model.create({ ...BASE_MODEL_CONFIG, ...opts.model } as ModelConfig, { seed: requireNonNegInt('seed', opts.seed ?? 0) });
  if (model.config.vocabSize < tok.vocabSize) throw new BackendArgumentError('model.vocabSize', `at least ${tok.vocabSize}`, model.config.vocabSize);
  const optimizer = new Optimizer(model, {
    kind: 'adamw',
    lr,
    weightDecay: requireRange('weightDecay', opts.weightDecay ?? 0.1, 0, 10),
    maxGradNorm: requireRange('maxGradNorm', opts.maxGradNorm ?? 1, 0, 1e9),
    beta2: 0.99,
  });
  const schedule = lrSchedule({ kind: 'cosine', lr, warmupSteps, totalSteps: steps, minLr: requireRange('minLr', opts.minLr ?? 1e-4, 0, lr) });
  const unigram = new UnigramCounter();
  const losses: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  try {
    for (let step = startStep; step < steps; step++) {
      const seqs: number[][] = [];
      const masks: Uint8Array[] = [];
      for (let b = 0; b < batchSize; b++) {
        const rec = corpusRecord(corpusOpts, step * batchSize + b);
        const solution = rec.text.slice(promptText(rec.problem.question).length);
        const ex = encodeTrainingExample(tok, rec.problem.question, solution);
        if (ex.ids.length > model.config.maxSeqLen)
          throw new BackendArgumentError('model.maxSeqLen', `at least ${ex.ids.length} (corpus record ${step * batchSize + b})`, model.config.maxSeqLen);
        seqs.push(ex.ids);
        masks.push(ex.mask);
        for (let t = 0; t < ex.ids.length - 1; t++) if (ex.mask[t]) unigram.add(ex.ids[t + 1]);
      }
      const packed = packSequences(seqs);
      const mask = new Uint8Array(packed.tokens.length);
      masks.forEach((m, i) => mask.set(m, packed.offsets[i]));
      model.zeroGrad();
      const out = await model.forward(packed);
      const ce = maskedCrossEntropy(out, mask);
      await model.backward(out, { gradToken: ce.gradToken });
      const info = await optimizer.step(schedule(step));
      losses.push(ce.loss);
      tokens += ce.count;
      opts.onProgress?.({ step, totalSteps: steps, loss: ce.loss, lr: optimizer.lr, gradNorm: info.gradNorm, tokens, elapsedS: (performance.now() - t0) / 1000 });
      if (opts.outDir && checkpointEvery > 0 && (step + 1) % checkpointEvery === 0 && step + 1 < steps)
        saveModel(model, join(opts.outDir, `step-${step + 1}`));
    }
    if (opts.outDir) saveModel(model, join(opts.outDir, 'final'));
  } finally {
    optimizer.dispose();
  }
  return { model, losses, tokens, numParams: model.numParams, unigramEntropy: unigram.entropy(), elapsedS: (performance.now() - t0) / 1000 };
}
