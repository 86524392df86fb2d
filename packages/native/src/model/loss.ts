/** Losses that are small TS functions over forward outputs (the native side only needs dL/dlogp). */
import type { ForwardOutput } from './model.js';

export interface TokenLoss {
  loss: number;
  gradToken: Float64Array;
  /** Tokens that counted (target >= 0 and mask set). */
  count: number;
}

/**
 * Masked next-token cross-entropy (pre-training / SFT): loss = -mean over counted tokens of log p(target),
 * so dL/dlogp_t = -1/count on counted tokens, 0 elsewhere. mask[t] = false drops token t (e.g. the prompt).
 */
export function maskedCrossEntropy(out: ForwardOutput, mask?: ArrayLike<boolean | number>): TokenLoss {
  const n = out.tokenLogp.length;
  let count = 0;
  let sum = 0;
  const use = new Uint8Array(n);
  for (let t = 0; t < n; t++) {
    if (out.batch.targets[t]! < 0 || (mask && !mask[t])) continue;
    use[t] = 1;
    count++;
    sum += out.tokenLogp[t]!;
  }
  const gradToken = new Float64Array(n);
  if (count > 0) for (let t = 0; t < n; t++) if (use[t]) gradToken[t] = -1 / count;
  return { loss: count > 0 ? -sum / count : 0, gradToken, count };
}
