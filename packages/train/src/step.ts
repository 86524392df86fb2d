/**
 * One preference-training step over any model with the engine's forward/backward shape (architecture.md §3):
 * forward the packed batch, compute a loss from the forward's outputs and the cached reference, backward.
 * The model is typed structurally so this package does not depend on the engine's build; the engine's
 * `Model` fits (forward(batch) → { tokenLogp, stepSum }, backward(out, { gradToken, gradStep })).
 */
import type { ForwardBatch, PairBatch } from './batch.js';
import { ArgumentError } from './errors.js';
import { dpoLoss, ipoLoss, sppdLoss, stepDpoLoss, type DpoOptions, type IpoOptions, type SppdOptions } from './losses/dpo.js';
import { fullStepDpoLoss, type FullStepDpoOptions } from './losses/full-step-dpo.js';
import type { LossResult } from './losses/common.js';
import type { FloatArray } from './losses/kernels.js';
import { sftLoss } from './losses/sft.js';
import { referenceInputs, type RefLogps } from './ref-cache.js';
import { forwardPairs, type PairForwardOptions } from './shared-prefix.js';

export interface ForwardOutputLike {
  /** Per packed position: log p(target). */
  tokenLogp: ArrayLike<number>;
  /** Per sum of the forward batch's stepIndex (here: one per sequence). */
  stepSum: ArrayLike<number>;
}

export interface TrainableModel<O extends ForwardOutputLike = ForwardOutputLike> {
  forward(batch: ForwardBatch): Promise<O>;
  backward(out: O, grads: { gradToken?: FloatArray; gradStep?: FloatArray }): Promise<void>;
}

/** Everything a loss may read for one batch. */
export interface LossContext {
  batch: PairBatch;
  /** Policy per-position log-probs [T] and completion sums [S]. */
  tokenLogps: ArrayLike<number>;
  sums: ArrayLike<number>;
  /** Reference completion sums [S] and, when cached per token, per-position log-probs [T]. */
  reference: ArrayLike<number>;
  refTokenLogps: ArrayLike<number> | null;
}

export type PairLoss = (ctx: LossContext) => LossResult;

/**
 * The loss of a method name with its options, as a PairLoss. SVPO is not here: its value term needs the
 * value head's outputs, which the language-model forward does not produce (call svpoLoss directly).
 */
export function pairLoss(kind: 'dpo' | 'step-dpo', options?: DpoOptions): PairLoss;
export function pairLoss(kind: 'sppd', options?: SppdOptions): PairLoss;
export function pairLoss(kind: 'ipo', options?: IpoOptions): PairLoss;
export function pairLoss(kind: 'full-step-dpo', options?: FullStepDpoOptions): PairLoss;
export function pairLoss(kind: 'sft-chosen'): PairLoss;
export function pairLoss(kind: string, options?: object): PairLoss {
  switch (kind) {
    case 'dpo':
      return (c) => dpoLoss({ policy: c.sums, reference: c.reference }, options);
    case 'step-dpo':
      return (c) => stepDpoLoss({ policy: c.sums, reference: c.reference }, options);
    case 'sppd':
      return (c) => sppdLoss({ policy: c.sums, reference: c.reference }, c.batch.values, options);
    case 'ipo':
      return (c) => ipoLoss({ policy: c.sums, reference: c.reference }, c.batch.completionTokens, options);
    case 'full-step-dpo':
      return (c) => {
        if (!c.refTokenLogps) throw new ArgumentError('refs', 'per-token reference log-probs (open the cache with perToken: true)');
        const b = c.batch;
        return fullStepDpoLoss({ tokenLogps: c.tokenLogps, refTokenLogps: c.refTokenLogps, tokenRewards: b.tokenRewards, mask: b.stepIndex, seqOffsets: b.seqOffsets }, options);
      };
    case 'sft-chosen':
      // SFT on the chosen side only (SPPD's SFT stage on τ⁺ solutions): rejected positions are masked.
      return (c) => {
        const mask = Int32Array.from(c.batch.stepIndex, (k, x) => (c.batch.seqId[x] % 2 === 0 ? k : -1));
        return sftLoss({ tokenLogps: c.tokenLogps, mask });
      };
    default:
      throw new ArgumentError('kind', "'dpo', 'step-dpo', 'sppd', 'ipo', 'full-step-dpo' or 'sft-chosen'", kind);
  }
}

/**
 * forward → loss → backward for one batch; returns the loss result (the caller steps the optimiser). Each
 * pair's shared prefix is computed once unless `options.sharePrefix` is false (shared-prefix.ts); the loss sees
 * per-position log-probs and per-sequence sums in the PairBatch's layout either way.
 */
export async function preferenceStep<O extends ForwardOutputLike>(model: TrainableModel<O>, batch: PairBatch, refs: readonly RefLogps[], loss: PairLoss, options: Pick<PairForwardOptions, 'sharePrefix'> = {}): Promise<LossResult> {
  const { reference, refTokenLogps } = referenceInputs(batch, refs);
  const f = await forwardPairs(model, batch, { granularity: 'sequence', sharePrefix: options.sharePrefix });
  if (f.sums.length !== batch.completionTokens.length) throw new ArgumentError('model.forward', `stepSum of length ${batch.completionTokens.length}`, `${f.sums.length}`);
  const result = loss({ batch, tokenLogps: f.tokenLogps, sums: f.sums, reference, refTokenLogps });
  await f.backward({ ...(result.gradToken ? { gradToken: result.gradToken } : {}), ...(result.gradStep ? { gradStep: result.gradStep } : {}) });
  return result;
}
