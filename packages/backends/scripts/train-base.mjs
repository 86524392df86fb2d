#!/usr/bin/env node
// Trains the embedded base model: node packages/backends/scripts/train-base.mjs --out DIR [--steps N] [--batch B]
//   [--lr X] [--seed S] [--every N] [--error-rate R]. Writes DIR/metrics.jsonl (one line per step),
// DIR/step-<n>/ checkpoints and DIR/final/, and prints a line every 10 steps.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { trainBaseModel } from '@stepwise/backends';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' }, steps: { type: 'string', default: '1000' }, batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '2e-3' }, seed: { type: 'string', default: '0' }, every: { type: 'string', default: '100' },
    'error-rate': { type: 'string', default: '0.15' }, warmup: { type: 'string', default: '50' },
  },
});
if (!a.out) throw new Error('--out: expected a directory');
mkdirSync(a.out, { recursive: true });
const metrics = join(a.out, 'metrics.jsonl');
const r = await trainBaseModel({
  steps: Number(a.steps), batchSize: Number(a.batch), lr: Number(a.lr), seed: Number(a.seed),
  warmupSteps: Number(a.warmup), checkpointEvery: Number(a.every), outDir: a.out,
  corpus: { seed: 0, errorRate: Number(a['error-rate']) },
  onProgress: (p) => {
    appendFileSync(metrics, JSON.stringify(p) + '\n');
    if (p.step % 10 === 0 || p.step + 1 === p.totalSteps)
      console.log(`step ${p.step} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} gnorm ${p.gradNorm.toFixed(2)} tokens ${p.tokens} ${p.elapsedS.toFixed(0)}s`);
  },
});
console.log(JSON.stringify({ done: true, numParams: r.numParams, tokens: r.tokens, unigramEntropy: r.unigramEntropy, finalLoss: r.losses.at(-1), elapsedS: r.elapsedS }));
