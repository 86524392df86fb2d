// node .scratch/base-sweep.mjs STEPS BATCH LR WARMUP [ERR] [OUTDIR]
import { trainBaseModel } from '@stepwise/backends';
import { saveModel } from '@stepwise/native';
import { greedyRollouts, policyFor, testProblems, recipe } from '@stepwise/recipes';
const [steps, batch, lr, warm, err = '0.15', out, L = '4', d = '128', ff = '352', h = '4'] = process.argv.slice(2);
const t0 = performance.now();
const r = await trainBaseModel({ steps: +steps, batchSize: +batch, lr: +lr, warmupSteps: +warm, seed: 0, corpus: { levels: [1], errorRate: +err }, model: { maxSeqLen: 272, numLayers: +L, hiddenSize: +d, intermediateSize: +ff, numHeads: +h } });
const tTrain = (performance.now() - t0) / 1000;
if (out) saveModel(r.model, out);
const c = recipe('sppd').config('full');
const policy = policyFor(r.model, c);
const t1 = performance.now();
const res = await greedyRollouts(c, policy, testProblems(c), 'sweep', 64);
const acc = res.filter((x) => x.correct).length / res.length;
console.log(JSON.stringify({ L, d, steps: +steps, batch: +batch, lr: +lr, err: +err, trainS: +tTrain.toFixed(1), evalS: +((performance.now() - t1) / 1000).toFixed(1), greedy: acc, finalLoss: r.losses.at(-1) }));
policy.dispose(); r.model.dispose();
