#!/usr/bin/env node
// Trains chains of stages on the pairs of an existing run directory and compares each result's greedy accuracy
// with the run's base model on the same held-out problems (docs/experiments.md, "A weaker base and the optimizer").
// It reuses the pipeline's own trainer, pair rules and rollouts; only the stage settings come from the command
// line, so a learning-rate or optimizer sweep needs no config file per point.
//
//   node packages/recipes/scripts/stage-sweep.mjs RUN_DIR OUT_DIR STAGE [STAGE …]
//     STAGE = objective:lr:epochs[:data[:key=value,…]]   e.g.  sft:1e-4:3   sppd:0.002:3::optimizer=sgd
//     data defaults to 'sentence' for sft/dpo/ipo and 'siblings' otherwise (the rules of config.ts RULE_OF);
//     key=value sets any TrainerConfig field (beta, gamma, margin, optimizer, batchSize, …).
//   RUN_DIR needs ckpt/base and pairs.jsonl (`stepwise pipeline … --stages base,sample,score,pairs`);
//   PAIRS=FILE reads another pairs file; FROM=NAME starts the chain from RUN_DIR/ckpt/NAME (e.g. dpo) instead of the base. Each stage trains on the previous stage's output; finished stages and
//   greedy results (OUT_DIR/greedy-*.json) are reused on a rerun. RUN_DIR is only read: a run directory's
//   manifest fingerprints its outputs, so nothing may be written into it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '@stepwise/core';
import { resolveTrainerConfig, RULE_OF, sftExamplesFromPairs, tokenizer, train } from '@stepwise/recipes';
import { heldOutGreedy, pct, versusBase } from './held-out.mjs';

const [run, out, ...stages] = process.argv.slice(2);
if (!run || !out || stages.length === 0) {
  console.error('usage: stage-sweep.mjs RUN_DIR OUT_DIR objective:lr:epochs[:data[:key=value,…]] …');
  process.exit(2);
}
for (const need of ['manifest.json', 'ckpt/base/config.json']) {
  if (!existsSync(join(run, need))) {
    console.error(`stage-sweep: ${run} has no ${need}; run the pipeline's base…pairs stages there first`);
    process.exit(2);
  }
}
const c = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).config;
mkdirSync(out, { recursive: true });

const greedy = (dir, name) => heldOutGreedy(c, out, dir, name);

const { records } = await readJsonl(process.env.PAIRS ?? join(run, 'pairs.jsonl'));
const base = await greedy(join(run, 'ckpt/base'), 'base');
console.log(`base: greedy ${pct(base)}% on ${base.length} problems`);
let init = join(run, 'ckpt', process.env.FROM ?? 'base');
for (const [i, spec] of stages.entries()) {
  const [objective, lr, epochs, dataArg, extra] = spec.split(':');
  const data = dataArg || (['sft', 'dpo', 'ipo'].includes(objective) ? 'sentence' : 'siblings');
  if (!(data in RULE_OF)) throw new Error(`stage ${spec}: data must be one of ${Object.keys(RULE_OF).join(', ')}`);
  const pairs = records.filter((p) => p.rule === RULE_OF[data]);
  const fields = { objective, lr: Number(lr), epochs: Number(epochs) };
  for (const kv of (extra ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    fields[k] = v === 'true' || v === 'false' ? v === 'true' : v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  const config = resolveTrainerConfig(fields); // throws ConfigError naming a bad field
  const name = `${i}-${spec.replace(/[^\w.-]+/g, '_')}`;
  const dir = join(out, name);
  const t0 = performance.now();
  if (!existsSync(join(dir, 'config.json'))) {
    await train({ initDir: init, tokenizer, data: objective === 'sft' ? sftExamplesFromPairs(pairs) : pairs, config, dir, metricsPath: join(out, 'metrics.jsonl'), stage: `${i}-${objective}` });
  }
  const g = await greedy(dir, name);
  console.log(`${spec}: ${pairs.length} pairs, ${((performance.now() - t0) / 1000).toFixed(0)} s → ${versusBase(base, g)}`);
  init = dir;
}
