// Times forward + backward of a plain packed batch (32 sequences of 120..249 tokens, the base model's shape,
// no parents) with one build of the addon, for A/B runs of two builds in alternating processes:
//
//   for i in 1 2 3; do node packages/native/scripts/bench-plain-pack.mjs /work/main/packages/native/build/Release/stepwise_native.node main
//                      node packages/native/scripts/bench-plain-pack.mjs packages/native/build/Release/stepwise_native.node branch; done
//
// Prints the medians of 5 repetitions after a warm-up: wall seconds and process CPU seconds (user + sys).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
const require = createRequire(import.meta.url);
const addon = require(resolve(process.argv[2])); // relative to the working directory
const cfg = { vocabSize: 99, hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 32, maxSeqLen: 272, ropeTheta: 10000, rmsNormEps: 1e-6, qkvBias: false, tieEmbeddings: true };
const m = new addon.ModelHandle(cfg, { seed: 1, dtype: 'float32' });
// 32 sequences of 120..249 tokens: the plain shape of a 16-step-pair batch
const lens = Array.from({ length: 32 }, (_, i) => 120 + ((i * 37) % 130));
const n = lens.reduce((a, b) => a + b, 0);
const offsets = new Int32Array(33); lens.forEach((l, i) => (offsets[i + 1] = offsets[i] + l));
const tokens = Int32Array.from({ length: n }, (_, i) => (i * 7) % 99);
const targets = Int32Array.from({ length: n }, (_, i) => (i * 11) % 99);
const g = new Float32Array(n).fill(0.01);
const ts = [];
for (let r = 0; r < 6; r++) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  const out = await m.forward(tokens, targets, null, offsets, 0);
  await m.backward(out.forwardId, g, null);
  const c = process.cpuUsage(c0);
  if (r > 0) ts.push([(performance.now() - t0) / 1000, (c.user + c.system) / 1e6]);
}
const med = (i) => ts.map((x) => x[i]).sort((a, b) => a - b)[Math.floor(ts.length / 2)];
console.log(JSON.stringify({ build: process.argv[3], rows: n, wallS: med(0), cpuS: med(1) }));
