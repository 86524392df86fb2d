#!/usr/bin/env node
// Trains the PRM on N = 1 corpus labels and reports step-level AUC vs the oracle on held-out test-split problems.
// Usage: node packages/prm/scripts/train-auc.mjs [--levels 1,2,3,4] [--train 20000] [--steps 2000] [--budget-s 300]
//        [--batch 16] [--lr 2e-3] [--hidden 64] [--layers 2] [--heads 4] [--objective bce] [--seed 0]
//        [--per-level 200] [--init <checkpoint dir>] [--out <dir>] [--eval-every 0]
import { parseArgs } from 'node:util';
import { Model, loadModel } from '@stepwise/native';
import { CharTokenizer } from '@stepwise/core';
import { PrmScorer, corpusExamples, evaluateScorer, heldOutSolutions, trainPrm } from '@stepwise/prm';

const { values: a } = parseArgs({
  options: Object.fromEntries(
    ['levels', 'train', 'steps', 'budget-s', 'batch', 'lr', 'hidden', 'layers', 'heads', 'objective', 'seed', 'per-level', 'init', 'out', 'eval-every', 'error-rate', 'lm'].map((k) => [k, { type: 'string' }]),
  ),
});
const levels = (a.levels ?? '1,2,3,4').split(',').map(Number);
const num = (k, d) => (a[k] === undefined ? d : Number(a[k]));
const seed = num('seed', 0);
const tok = new CharTokenizer();
const t0 = Date.now();
const train = corpusExamples({ seed: `prm-${seed}`, errorRate: num('error-rate', 0.15), levels }, num('train', 20000));
const heldOut = heldOutSolutions({ levels, perLevel: num('per-level', 200), seed });
const hidden = num('hidden', 64);
const model = a.init
  ? loadModel(a.init)
  : Model.create(
      { vocabSize: tok.vocabSize, hiddenSize: hidden, intermediateSize: hidden * 3, numLayers: num('layers', 2), numHeads: num('heads', 4), maxSeqLen: 320 },
      { seed },
    );
const pos = train.filter((e) => e.labels[0] === 1).length / train.length;
console.log(`train ${train.length} solutions (${(100 * pos).toFixed(1)}% correct), held-out ${heldOut.length}, params ${model.numParams}, levels ${levels}`);
const scorer = new PrmScorer(model);
const budget = num('budget-s', 300) * 1000;
const evalEvery = num('eval-every', 0);
const report = async (tag) => {
  const ev = await evaluateScorer(scorer, heldOut, { seed, resamples: 1000 });
  const per = [];
  for (const l of levels) {
    const sub = heldOut.filter((h) => h.problem.meta?.level === l);
    if (sub.length) per.push(`L${l} ${(await evaluateScorer(scorer, sub, { seed, resamples: 200 })).auc.toFixed(3)}`);
  }
  console.log(`${tag}: AUC ${ev.auc.toFixed(4)} [${ev.lo.toFixed(4)}, ${ev.hi.toFixed(4)}] 95% bootstrap over ${ev.problems} problems, ${ev.steps} steps (${(100 * ev.positiveRate).toFixed(1)}% good); ${per.join(', ')}`);
  return ev;
};
const res = await trainPrm({
  model,
  examples: train,
  steps: num('steps', 2000),
  batchSize: num('batch', 16),
  lr: num('lr', 2e-3),
  objective: a.objective ?? 'bce',
  lmWeight: num('lm', 0),
  seed,
  checkpointDir: a.out,
  checkpointEvery: a.out ? 250 : undefined,
  shouldStop: () => Date.now() - t0 > budget,
  onProgress: async (p) => {
    if (p.step % 25 === 0) console.log(`step ${p.step}/${p.totalSteps} loss ${p.stepLoss.toFixed(4)} lm ${p.lmLoss.toFixed(3)} lr ${p.lr.toExponential(2)} |g| ${p.gradNorm.toFixed(3)} ${(p.elapsedMs / 1000).toFixed(0)}s`);
    if (evalEvery && p.step % evalEvery === 0) await report(`step ${p.step}`);
  },
});
const ev = await report(`final (${res.stepsDone} steps, ${((Date.now() - t0) / 1000).toFixed(0)}s)`);
console.log(JSON.stringify({ steps: res.stepsDone, auc: ev.auc, lo: ev.lo, hi: ev.hi, problems: ev.problems, loadavg: (await import('node:os')).loadavg() }));
