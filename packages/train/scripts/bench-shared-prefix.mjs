// How much computing each step pair's shared prefix once saves (docs/train.md "Shared prefix: measured").
//
// Step pairs from the embedded task's pre-training corpus: for a corpus solution whose first injected error is
// at step k, prefix = prompt + the k correct steps before it, chosen = the correct step k, rejected = the
// corpus's wrong step k (texts laid out as the trainer reads them: promptText + steps + "\n"). One batch of
// `--pairs` pairs is timed as a training step (forward → Step-DPO loss → backward, the optimiser excluded: it
// does not depend on the packing) and as a reference forward, with the shared prefix once and with both full
// sequences, alternating the two so load drift hits both; medians are reported.
//
//   node packages/train/scripts/bench-shared-prefix.mjs [--pairs 16] [--reps 7] [--config base|d256] [--min-step 0]
//
// --min-step k keeps only pairs whose first error is at step >= k (a longer shared prefix). Wall-clock and
// process CPU seconds (user + sys, all threads) are both reported: on a shared machine CPU time is the
// steadier of the two.
//
// Needs the built packages (npm run build).
import { CharTokenizer } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { corpus, promptText, STEP_SEPARATOR } from '@stepwise/tasks';
import { buildPairBatch, forwardPairs, pairForwardLayout, pairLoss, preferenceStep, refLogpsFromTokens } from '@stepwise/train';
import { loadavg } from 'node:os';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const numPairs = Number(arg('pairs', 16));
const reps = Number(arg('reps', 7));
const minStep = Number(arg('min-step', 0));
const configs = {
  // backends' BASE_MODEL_CONFIG: the embedded base model the recipes train.
  base: { vocabSize: 99, hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, maxSeqLen: 272, tieEmbeddings: true },
  // bench-engine's smaller training shape, for a model where the GEMMs dominate more.
  d256: { vocabSize: 99, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 4, numKvHeads: 2, maxSeqLen: 272 },
};
const config = configs[arg('config', 'base')];
if (!config) throw new Error(`--config: expected ${Object.keys(configs).join(' | ')}`);

function stepPairs(n) {
  const out = [];
  let skipped = 0;
  for (const rec of corpus({ seed: 'bench-shared-prefix', errorRate: 0.3 }, 50 * n)) {
    if (out.length === n) break;
    const k = rec.errors[0]?.index;
    const good = rec.problem.solutionSteps;
    // The first error at k: steps before it are the correct ones (checked, never assumed).
    if (k === undefined || k < minStep || !good || k >= good.length || rec.steps.slice(0, k).some((s, i) => s !== good[i]) || rec.steps[k] === good[k]) {
      skipped += k !== undefined;
      continue;
    }
    const sep = (s) => s + STEP_SEPARATOR;
    out.push({
      schema: 'stepwise.step-pair@1', problemId: rec.problem.id, prompt: promptText(rec.problem.question), prefixSteps: rec.steps.slice(0, k).map(sep),
      chosen: sep(good[k]), rejected: sep(rec.steps[k]), chosenValue: 1, rejectedValue: 0, rule: 'corpus-first-error',
    });
  }
  if (out.length < n) throw new Error(`only ${out.length} pairs from the corpus (${skipped} skipped)`);
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tok = new CharTokenizer();
const pairs = stepPairs(numPairs);
const batch = buildPairBatch(tok, pairs);
const shared = pairForwardLayout(batch);
const plainRows = batch.inputIds.length;
const sharedRows = shared.forward.tokens.length;
const ks = pairs.map((p) => p.prefixSteps.length);

const model = Model.create(config, { seed: 1 });
const loss = pairLoss('step-dpo', { beta: 0.4 });
const refs = refLogpsFromTokens(batch, (await forwardPairs(model, batch, { sharePrefix: false })).tokenLogps, false);
const time = async (fn) => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return [(performance.now() - t0) / 1000, (c.user + c.system) / 1e6];
};
const t = { trainOn: [], trainOff: [], refOn: [], refOff: [] };
const load0 = loadavg()[0];
for (let r = 0; r < reps + 1; r++) {
  const sample = {
    trainOn: await time(async () => (model.zeroGrad(), await preferenceStep(model, batch, refs, loss, { sharePrefix: true }))),
    trainOff: await time(async () => (model.zeroGrad(), await preferenceStep(model, batch, refs, loss, { sharePrefix: false }))),
    refOn: await time(() => forwardPairs(model, batch, { sharePrefix: true })),
    refOff: await time(() => forwardPairs(model, batch, { sharePrefix: false })),
  };
  if (r > 0) for (const k of Object.keys(t)) t[k].push(sample[k]); // the first round warms the buffers up
}
const load1 = loadavg()[0];
const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v.map((x) => x[0]))]));
const cpu = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v.map((x) => x[1]))]));
const result = {
  config: arg('config', 'base'), params: model.numParams, pairs: numPairs, minStep,
  prefixSteps: { min: Math.min(...ks), mean: ks.reduce((a, b) => a + b, 0) / ks.length, max: Math.max(...ks) },
  rowsPlain: plainRows, rowsShared: sharedRows, rowsSaved: plainRows - sharedRows, fractionSaved: 1 - sharedRows / plainRows,
  trainStepS: { shared: m.trainOn, plain: m.trainOff, speedup: m.trainOff / m.trainOn },
  refForwardS: { shared: m.refOn, plain: m.refOff, speedup: m.refOff / m.refOn },
  trainStepCpuS: { shared: cpu.trainOn, plain: cpu.trainOff, ratio: cpu.trainOff / cpu.trainOn },
  refForwardCpuS: { shared: cpu.refOn, plain: cpu.refOff, ratio: cpu.refOff / cpu.refOn },
  reps, load1min: [load0, load1],
};
console.log(JSON.stringify(result, null, 2));
model.dispose();
