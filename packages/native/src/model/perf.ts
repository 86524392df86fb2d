/** Work counts and the GEMM rate used by `stepwise bench engine`. */
import { loadBinding } from '../binding.js';
import type { ResolvedModelConfig } from './config.js';
import { callNative } from './errors.js';

/** Best GFLOP/s of the native sgemm at [m,k] x [n,k]^T (what every engine GEMM calls). Synchronous. */
export function sgemmGflops(m: number, n: number, k: number, repeats = 5): number {
  return callNative(() => loadBinding().engineSgemmRate(m, n, k, repeats) as number);
}

/**
 * FLOPs of one training step (forward + backward) over packed sequences of the given lengths: 2 per
 * multiply-add; the matmuls (q/k/v/o, gate/up/down, LM head) and causal attention (q.k and p.v over the
 * earlier tokens of the sequence). Backward counts 2x forward (dX and dW). The head's recompute of the logits
 * in backward is not counted (the minimum work, as the kernel benchmark does). Elementwise work is ignored.
 */
export function trainingFlops(c: ResolvedModelConfig, seqLens: readonly number[]): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const perTokenMatmul = c.numLayers * (c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize) + c.vocabSize * c.hiddenSize;
  let tokens = 0;
  let attnPairs = 0; // sum over tokens of the keys attended (causal)
  for (const n of seqLens) {
    tokens += n;
    attnPairs += (n * (n + 1)) / 2;
  }
  const forward = 2 * perTokenMatmul * tokens + c.numLayers * 2 * 2 * q * attnPairs;
  return 3 * forward;
}
