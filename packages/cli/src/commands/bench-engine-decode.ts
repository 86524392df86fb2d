/**
 * The decode half of `stepwise bench engine`: batched sampling throughput of the embedded base model's shape
 * (backends' BASE_MODEL_CONFIG, random weights) at several batch sizes. Each batch forks B sequences from one
 * prefilled 60-token prompt and samples 40 tokens each (temperature 1, no stop token, so every row decodes all
 * 40); the time is the best of `reps` calls, each on fresh forks. This is the loop that tree sampling, Monte-Carlo
 * rollouts and evaluation spend their time in, and it shows why EnginePolicy merges concurrent calls (few rows
 * cost nearly as much per step as many). Run it again with STEPWISE_PORTABLE_KERNELS=1 for the portable
 * attention and linear paths.
 */
import { BASE_MODEL_CONFIG } from '@stepwise/backends';
import { KVCache, Model, backends } from '@stepwise/native';

export interface DecodeRecord {
  batch: number;
  newTokens: number;
  promptTokens: number;
  bestSeconds: number;
  tokensPerSec: number;
  msPerStep: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

export async function benchDecode(quick: boolean, log: (s: string) => void): Promise<{ kernels: string; rows: DecodeRecord[] }> {
  using model = Model.create(BASE_MODEL_CONFIG, { seed: 1, initStd: 0.05 });
  const promptTokens = 60;
  const newTokens = 40;
  const reps = quick ? 2 : 3;
  const prompt = Array.from({ length: promptTokens }, (_, i) => 3 + ((i * 7) % 90));
  const rows: DecodeRecord[] = [];
  for (const batch of quick ? [4, 64] : [1, 4, 16, 64, 256]) {
    using cache = new KVCache(model, { budgetTokens: (batch + 1) * 128, blockSize: 16 });
    const root = cache.sequence(prompt);
    await cache.prefill([root]);
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const forks = root.fork(batch);
      const t0 = now();
      await cache.generate(forks, { maxNewTokens: newTokens, temperature: 1, seed: r });
      best = Math.min(best, now() - t0);
      for (const f of forks) f.release();
    }
    const rec = { batch, newTokens, promptTokens, bestSeconds: best, tokensPerSec: (batch * newTokens) / best, msPerStep: (1000 * best) / newTokens };
    log(`decode B=${batch}: ${rec.tokensPerSec.toFixed(0)} tok/s, ${rec.msPerStep.toFixed(2)} ms/step`);
    rows.push(rec);
  }
  const cpu = backends().cpu;
  const portable = !!process.env.STEPWISE_PORTABLE_KERNELS && process.env.STEPWISE_PORTABLE_KERNELS !== '0';
  return { kernels: cpu.avx2 && !portable ? 'avx2' : 'portable', rows };
}

export function printDecode(d: { kernels: string; rows: DecodeRecord[] }): void {
  const r0 = d.rows[0];
  console.log(`decode: base model shape (0.8M params), ${r0?.promptTokens}-token prompt, ${r0?.newTokens} new tokens per row, ${d.kernels} kernels, best of runs`);
  console.log('  rows   tok/s  ms/step');
  for (const r of d.rows) console.log(`  ${String(r.batch).padStart(4)} ${r.tokensPerSec.toFixed(0).padStart(7)} ${r.msPerStep.toFixed(2).padStart(8)}`);
}
