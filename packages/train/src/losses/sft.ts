/**
 * SFT: masked negative log-likelihood, averaged over target tokens (methods.md §2.2 SFT stage, AlphaMath's
 * LM term). Prompt/prefix positions carry no label (stepIndex −1 in the packed batch) and contribute nothing.
 */
import { ArgumentError } from '../errors.js';
import { checkArray, type KernelChoice, type LossResult } from './common.js';
import { nativeKernels } from './kernels.js';

export interface SftInput {
  /** Policy log p(target) per packed position. */
  tokenLogps: ArrayLike<number>;
  /** Per position: ≥ 0 = a labelled (completion) token, −1 = masked. The batch's `stepIndex` fits as is. */
  mask: ArrayLike<number>;
}

/**
 * loss = −(1/n)·Σ_{t labelled} ℓ_t with n the number of labelled tokens; gradToken_t = −1/n on labelled
 * positions, 0 elsewhere. No labelled token: loss 0 and a zero gradient (nothing to learn, not an error,
 * so a batch of only-prompt rows does not stop a run).
 */
export function sftLoss(input: SftInput, options?: KernelChoice): LossResult {
  const t = checkArray('input.tokenLogps', input.tokenLogps).length;
  const mask = input.mask;
  if (mask === undefined || mask.length !== t) throw new ArgumentError('input.mask', `length ${t}`, mask === undefined ? mask : `length ${mask.length}`);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < t; i++) {
    if (mask[i] >= 0) (n += 1), (sum += input.tokenLogps[i]);
  }
  const gradToken = (options?.kernels ?? nativeKernels).array(t);
  if (n > 0) for (let i = 0; i < t; i++) if (mask[i] >= 0) gradToken[i] = -1 / n;
  return { loss: n === 0 ? 0 : -sum / n, gradToken, metrics: { tokens: n } };
}
