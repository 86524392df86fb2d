import { trainBaseModel } from '@stepwise/backends';
const [steps, batch, L = 4, d = 128, ff = 352, h = 4] = process.argv.slice(2).map(Number);
const times = [];
let last = performance.now();
const r = await trainBaseModel({ steps, batchSize: batch, lr: 3e-3, warmupSteps: 2, corpus: { levels: [1] }, model: { maxSeqLen: 272, numLayers: L, hiddenSize: d, intermediateSize: ff, numHeads: h }, onProgress: () => { const n = performance.now(); times.push(n - last); last = n; } });
times.sort((a, b) => a - b);
console.log(batch, 'median ms/step', times[times.length >> 1].toFixed(1), 'min', times[0].toFixed(1), 'max', times.at(-1).toFixed(1), 'tokens/step', (r.tokens / steps).toFixed(0));
