/**
 * `stepwise bench engine [--json FILE] [--quick]`: the engine benchmark. Reports, never gates (exit 0 whatever
 * the numbers; 2 for bad usage).
 *
 * - training: tokens/s and GFLOP/s of forward + backward + AdamW step on packed sequences, for models with
 *   d_model >= 256, and that rate as a fraction of the native sgemm rate measured in the same run at the
 *   model's largest GEMM shape (the ceiling a CPU transformer step can approach).
 * - generation (bench-engine-tree.ts): an SPPD tree, K = 64 expansions x C = 2 children of one 24-token step
 *   each, generated with forking (children share the parent's KV blocks) vs independent sampling of the same
 *   paths (every child computes its whole prefix in a fresh sequence): computed tokens and wall-clock, against
 *   the targets (>= 3x fewer tokens, >= 2x wall-clock); plus the older depth-3 shape for comparison.
 * - decode (bench-engine-decode.ts): batched sampling throughput of the base model's shape at 1 to 256 rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';

import {
  Model,
  type ModelConfig,
  Optimizer,
  backends,
  maskedCrossEntropy,
  resolveConfig,
  sgemmGflops,
  trainingFlops,
} from '@stepwise/native';

import { benchDecode, printDecode } from './bench-engine-decode.js';
import { benchGeneration, printGeneration } from './bench-engine-tree.js';

export const help = `usage: stepwise bench engine [--json FILE] [--quick]

Times the transformer engine on this machine: training tokens/s and GFLOP/s (as a fraction of the sgemm rate
measured in the same run) at d_model >= 256, and SPPD tree generation (K=64 expansions x C=2 children, each child
one 24-token step; 8 walkers per round as in tree-sample) with forked KV caches vs independent sampling of the
same paths: computed tokens and wall-clock (targets: >= 3x fewer tokens, >= 2x faster). Also the older shape
(64 tokens per node, C=2, depth 3), and decode throughput of the embedded base model's shape at 1 to 256 rows
(STEPWISE_PORTABLE_KERNELS=1 for the portable kernels).

options:
  --json FILE   also write the results as JSON
  --quick       one small training shape, one run per generation mode (else the median of 3, alternating)
  -h, --help    this text`;

interface TrainRecord {
  name: string;
  config: ModelConfig;
  params: number;
  tokens: number;
  seqLen: number;
  medianSeconds: number;
  tokensPerSec: number;
  gflopPerSec: number;
  sgemmGflopPerSec: number;
  fractionOfSgemm: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

function shapes(quick: boolean): { name: string; config: ModelConfig; seqLen: number; seqs: number }[] {
  const small: ModelConfig = { vocabSize: 4096, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 4, numKvHeads: 2, maxSeqLen: 1024 };
  const list = [{ name: 'd256-L4', config: small, seqLen: 256, seqs: 4 }];
  if (!quick)
    list.push({
      name: 'd512-L4',
      config: { vocabSize: 8192, hiddenSize: 512, intermediateSize: 1376, numLayers: 4, numHeads: 8, numKvHeads: 4, maxSeqLen: 1024 },
      seqLen: 256,
      seqs: 4,
    });
  return list;
}

async function benchTraining(quick: boolean, log: (s: string) => void): Promise<TrainRecord[]> {
  const out: TrainRecord[] = [];
  for (const s of shapes(quick)) {
    const cfg = resolveConfig(s.config);
    using model = Model.create(cfg, { seed: 1 });
    using opt = new Optimizer(model, { lr: 1e-4, weightDecay: 0.01, maxGradNorm: 1 });
    const n = s.seqLen * s.seqs;
    const tokens = new Int32Array(n);
    let x = 12345;
    for (let i = 0; i < n; i++) tokens[i] = (x = (x * 1103515245 + 12345) >>> 0) % cfg.vocabSize;
    const offsets = Int32Array.from({ length: s.seqs + 1 }, (_, i) => i * s.seqLen);
    const step = async () => {
      model.zeroGrad();
      const o = await model.forward({ tokens, offsets });
      await model.backward(o, maskedCrossEntropy(o));
      await opt.step();
    };
    await step(); // warm-up: buffers grow once, threads spin up
    const times: number[] = [];
    for (let r = 0; r < (quick ? 2 : 4); r++) {
      const t0 = now();
      await step();
      times.push(now() - t0);
    }
    const t = median(times);
    const flops = trainingFlops(cfg, new Array(s.seqs).fill(s.seqLen));
    // The ceiling: sgemm at the step's largest GEMM (tokens x intermediate x hidden).
    const peak = sgemmGflops(Math.min(n, 2048), cfg.intermediateSize, cfg.hiddenSize, quick ? 3 : 5);
    const rec: TrainRecord = {
      name: s.name,
      config: s.config,
      params: model.numParams,
      tokens: n,
      seqLen: s.seqLen,
      medianSeconds: t,
      tokensPerSec: n / t,
      gflopPerSec: flops / t / 1e9,
      sgemmGflopPerSec: peak,
      fractionOfSgemm: flops / t / 1e9 / peak,
    };
    log(`train ${s.name}: ${rec.tokensPerSec.toFixed(0)} tok/s, ${rec.gflopPerSec.toFixed(1)} GFLOP/s = ${(100 * rec.fractionOfSgemm).toFixed(0)}% of sgemm ${peak.toFixed(1)}`);
    out.push(rec);
  }
  return out;
}

export async function run(args: string[]): Promise<number> {
  let json: string | undefined;
  let quick = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') {
      console.log(help);
      return 0;
    }
    if (a === '--quick') quick = true;
    else if (a === '--json') {
      json = args[++i];
      if (json === undefined || json.startsWith('--')) {
        console.error(`stepwise bench engine: --json needs a file\n\n${help}`);
        return 2;
      }
    } else {
      console.error(`stepwise bench engine: unknown option '${a}'\n\n${help}`);
      return 2;
    }
  }
  const log = (s: string) => console.error(s);
  const startedAt = new Date().toISOString();
  const training = await benchTraining(quick, log);
  const generation = await benchGeneration(quick, log);
  const decode = await benchDecode(quick, log);
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${backends().cpu.threads} engine threads)`);
  console.log('training (forward + backward + AdamW, packed sequences)');
  console.log('  shape      params     tokens  tok/s     GFLOP/s  sgemm GFLOP/s  fraction');
  for (const r of training)
    console.log(
      `  ${r.name.padEnd(9)} ${String(r.params).padStart(9)} ${String(r.tokens).padStart(7)}  ${r.tokensPerSec.toFixed(0).padStart(7)}  ${r.gflopPerSec.toFixed(1).padStart(8)}  ${r.sgemmGflopPerSec.toFixed(1).padStart(13)}  ${r.fractionOfSgemm.toFixed(2).padStart(8)}`,
    );
  printGeneration(generation);
  printDecode(decode);
  if (json) {
    const path = resolve(json);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify({ benchmark: 'engine', startedAt, loadavg: loadavg(), machine: backends(), training, generation, decode }, null, 2) + '\n');
  }
  return 0;
}
