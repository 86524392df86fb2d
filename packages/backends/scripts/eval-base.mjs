#!/usr/bin/env node
// Evaluates a checkpoint on the arith-v1 test split: node packages/backends/scripts/eval-base.mjs --ckpt DIR
//   [--count 200] [--levels 1,2,3,4] [--temperatures 1] [--seed 0] [--heldout 64] [--json OUT.json]
// Prints one line per (level, mode): accuracy with a 95% Wilson interval, process accuracy, mean tokens.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { corpusLoss, EnginePolicy, evaluateOnTestSplit } from '@stepwise/backends';
import { loadModel } from '@stepwise/native';

const { values: a } = parseArgs({
  options: {
    ckpt: { type: 'string' }, count: { type: 'string', default: '200' }, levels: { type: 'string', default: '1,2,3,4' },
    temperatures: { type: 'string', default: '1' }, seed: { type: 'string', default: '0' }, json: { type: 'string' },
    heldout: { type: 'string', default: '64' },
  },
});
if (!a.ckpt) throw new Error('--ckpt: expected a checkpoint directory');
const model = loadModel(a.ckpt);
// Held-out corpus loss (records from index 1e6 on, never trained on) against those tokens' unigram entropy.
const held = Number(a.heldout) > 0 ? await corpusLoss(model, { offset: 1_000_000, count: Number(a.heldout) }) : null;
if (held) console.log(`held-out loss ${held.loss.toFixed(4)} nats/token vs unigram entropy ${held.unigramEntropy.toFixed(4)} (${held.tokens} solution tokens)`);
const policy = new EnginePolicy(model);
const t0 = performance.now();
const rows = await evaluateOnTestSplit(policy, {
  levels: a.levels.split(',').map(Number), count: Number(a.count), seed: Number(a.seed),
  temperatures: a.temperatures ? a.temperatures.split(',').map(Number) : [],
  onLevel: (r) => console.log(`L${r.level} ${r.mode.padEnd(12)} acc ${r.accuracy.toFixed(3)} [${r.ci95[0].toFixed(3)}, ${r.ci95[1].toFixed(3)}] n=${r.n} process ${r.processAccuracy.toFixed(3)} tokens ${r.meanTokens.toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)}s)`),
});
if (a.json) writeFileSync(a.json, JSON.stringify({ ckpt: a.ckpt, heldOut: held, rows, stats: policy.stats, cache: policy.cache.stats() }, null, 2) + '\n');
