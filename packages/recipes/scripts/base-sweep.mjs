#!/usr/bin/env node
// Base-model training budget against greedy accuracy (docs/experiments.md, "The quick preset"): trains one base
// model on the task's level-1 corpus exactly as the pipeline's base stage does (AdamW, warmup then cosine to 1e-4,
// the 15% step-error corpus, seed 0), then measures greedy accuracy on the full preset's 1000 held-out problems.
// Prints one JSON line: the settings, the training seconds, the greedy accuracy.
//   node packages/recipes/scripts/base-sweep.mjs STEPS LR LAYERS WIDTH FFN HEADS [OUT_DIR]
// e.g. the quick preset's base: `base-sweep.mjs 2000 3e-3 2 64 176 2`; the full preset's: `1800 3e-3 4 128 352 4`.
// Batch 16 and 40 warmup steps, as in both presets. OUT_DIR, when given, receives the checkpoint (a base for
// `stepwise pipeline --base-from`).
import { saveModel } from '@stepwise/native';
import { greedyRollouts, merge, policyFor, recipe, testProblems, trainConfigBase, validateConfig } from '@stepwise/recipes';

const args = process.argv.slice(2);
if (args.length < 6) {
  console.error('usage: base-sweep.mjs STEPS LR LAYERS WIDTH FFN HEADS [OUT_DIR]');
  process.exit(2);
}
const [steps, lr, numLayers, hiddenSize, intermediateSize, numHeads] = args.slice(0, 6).map(Number);
const out = args[6];
const model = { numLayers, hiddenSize, intermediateSize, numHeads };
// The pipeline's own validation of the same fields (errors name base.steps, base.model.numHeads, …).
const c = validateConfig(merge(recipe('sppd').config('full'), { base: { steps, lr, model } }));

const t0 = performance.now();
const r = await trainConfigBase(c);
const trainS = (performance.now() - t0) / 1000;
if (out) saveModel(r.model, out);
const policy = policyFor(r.model, c);
try {
  const res = await greedyRollouts(c, policy, testProblems(c), 'base-sweep', 64);
  const greedy = res.filter((x) => x.correct).length / res.length;
  console.log(JSON.stringify({ steps, lr, model, params: r.numParams, trainS: +trainS.toFixed(1), finalLoss: r.losses.at(-1), greedy, problems: res.length }));
} finally {
  policy.dispose();
  r.model.dispose();
}
