/**
 * The trainer's configuration: every field, its default and its check. A recipe writes a full config; a user
 * config file overrides fields; `resolveTrainerConfig` fills the rest and throws ConfigError naming the field.
 */
import { ConfigError } from './errors.js';

export type Objective = 'sft' | 'dpo' | 'step-dpo' | 'sppd' | 'full-step-dpo' | 'ipo';
export const OBJECTIVES: readonly Objective[] = ['sft', 'dpo', 'step-dpo', 'sppd', 'full-step-dpo', 'ipo'];

export interface TrainerConfig {
  /** The loss (packages/train): sft | dpo | step-dpo | sppd | full-step-dpo | ipo. */
  objective: Objective;
  /** β of the DPO-family losses (implicit-reward inverse temperature). */
  beta: number;
  /** SPPD: γ in m = γ·(V_w − V_l); Full-Step-DPO: the reward temperature of the token softmax. */
  gamma: number;
  /**
   * SPPD margin: 'dynamic' = γ·(V_w − V_l) per pair (Eq. 5); 'fixed' = one margin for every pair, equal to the
   * mean dynamic margin of the training pairs (same average pressure, no per-pair information — the ablation);
   * 'none' = γ = 0 (Step-DPO with SPPD's β).
   */
  margin: 'dynamic' | 'fixed' | 'none';
  optimizer: 'adamw' | 'sgd';
  lr: number;
  /** Minimum learning rate at the end of a linear/cosine decay. */
  minLr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  /** Fraction of the optimizer steps spent in linear warmup. */
  warmupRatio: number;
  weightDecay: number;
  /** SGD momentum (ignored by AdamW). */
  momentum: number;
  /** Global gradient-norm clip (0 = off). */
  maxGradNorm: number;
  /** Passes over the data. */
  epochs: number;
  /** Examples (pairs or SFT solutions) per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (the effective batch is batchSize × gradAccum). */
  gradAccum: number;
  /** Seeds the per-epoch data order. */
  seed: number;
  /** Write a resumable checkpoint every this many optimizer steps (0 = only at the end). */
  checkpointEvery: number;
  /** Run the eval hook every this many optimizer steps (0 = only at the end). */
  evalEvery: number;
  /** Reference log-probs are computed in fixed chunks of this many pairs (each chunk is one cached write). */
  refChunk: number;
  /**
   * Preference objectives: compute each pair's shared prefix (prompt + earlier steps) once in the policy's
   * forward/backward and the reference forward (packages/train shared-prefix.ts). Same numbers to float32
   * rounding, fewer tokens computed; false = both full sequences of every pair.
   */
  sharePrefix: boolean;
  /**
   * Preference objectives: weight w of the chosen completion's per-token NLL added to the pair loss (RPO, "DPO +
   * NLL"; packages/train chosen-nll.ts). 0 = the loss as the papers write it.
   */
  chosenNll: number;
}

export const TRAINER_DEFAULTS: TrainerConfig = {
  objective: 'dpo',
  beta: 0.1,
  gamma: 1.0,
  margin: 'dynamic',
  optimizer: 'adamw',
  lr: 1e-4,
  minLr: 0,
  schedule: 'cosine',
  warmupRatio: 0.1,
  weightDecay: 0,
  momentum: 0,
  maxGradNorm: 1,
  epochs: 1,
  batchSize: 16,
  gradAccum: 1,
  seed: 0,
  checkpointEvery: 10,
  evalEvery: 0,
  refChunk: 64,
  sharePrefix: true,
  chosenNll: 0,
};

const num = (field: string, v: unknown, ok: (x: number) => boolean, expected: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ConfigError(field, expected, v);
  return v;
};
const int = (field: string, v: unknown, min: number): number => num(field, v, (x) => Number.isInteger(x) && x >= min, `an integer >= ${min}`);
const bool = (field: string, v: unknown): boolean => {
  if (typeof v !== 'boolean') throw new ConfigError(field, 'true or false', v);
  return v;
};
const oneOf = <T extends string>(field: string, v: unknown, allowed: readonly T[]): T => {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new ConfigError(field, allowed.map((a) => `'${a}'`).join(' | '), v);
  return v as T;
};

/** Fills defaults over `partial` and validates every field; `path` prefixes field names in errors. */
export function resolveTrainerConfig(partial: Partial<TrainerConfig>, path = 'train'): TrainerConfig {
  if (partial === null || typeof partial !== 'object') throw new ConfigError(path, 'an object', partial);
  for (const k of Object.keys(partial)) if (!(k in TRAINER_DEFAULTS)) throw new ConfigError(`${path}.${k}`, `one of the known fields (${Object.keys(TRAINER_DEFAULTS).join(', ')})`, k);
  const c = { ...TRAINER_DEFAULTS, ...partial };
  const f = (k: string) => `${path}.${k}`;
  return {
    objective: oneOf(f('objective'), c.objective, OBJECTIVES),
    beta: num(f('beta'), c.beta, (x) => x > 0, 'a number > 0'),
    gamma: num(f('gamma'), c.gamma, (x) => x >= 0, 'a number >= 0'),
    margin: oneOf(f('margin'), c.margin, ['dynamic', 'fixed', 'none'] as const),
    optimizer: oneOf(f('optimizer'), c.optimizer, ['adamw', 'sgd'] as const),
    lr: num(f('lr'), c.lr, (x) => x > 0 && x < 1, 'a number in (0, 1)'),
    minLr: num(f('minLr'), c.minLr, (x) => x >= 0 && x <= (c.lr as number), 'a number in [0, lr]'),
    schedule: oneOf(f('schedule'), c.schedule, ['constant', 'linear', 'cosine'] as const),
    warmupRatio: num(f('warmupRatio'), c.warmupRatio, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    weightDecay: num(f('weightDecay'), c.weightDecay, (x) => x >= 0, 'a number >= 0'),
    momentum: num(f('momentum'), c.momentum, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    maxGradNorm: num(f('maxGradNorm'), c.maxGradNorm, (x) => x >= 0, 'a number >= 0'),
    epochs: int(f('epochs'), c.epochs, 1),
    batchSize: int(f('batchSize'), c.batchSize, 1),
    gradAccum: int(f('gradAccum'), c.gradAccum, 1),
    seed: int(f('seed'), c.seed, 0),
    checkpointEvery: int(f('checkpointEvery'), c.checkpointEvery, 0),
    evalEvery: int(f('evalEvery'), c.evalEvery, 0),
    refChunk: int(f('refChunk'), c.refChunk, 1),
    sharePrefix: bool(f('sharePrefix'), c.sharePrefix),
    chosenNll: num(f('chosenNll'), c.chosenNll, (x) => x >= 0, 'a number >= 0'),
  };
}
