import { stepLogprob } from '@stepwise/native';
const n = 4096, v = 151936;
const logits = new Float32Array(n * v);
for (let i = 0; i < logits.length; i++) logits[i] = (Math.sin(i * 0.37) + Math.cos(i * 0.011)) * 3;
const targets = new Int32Array(n).map((_, i) => (i % 2 ? (i * 7919) % v : -1));
for (const checkValues of [false, true, false, true]) {
  const t0 = performance.now();
  stepLogprob({ logits, vocabSize: v, targets }, { checkValues });
  console.log(`checkValues=${checkValues}: ${(performance.now() - t0).toFixed(0)} ms`);
}
