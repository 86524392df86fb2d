#!/usr/bin/env node
// Writes the engine's logits for a saved checkpoint, for comparison with HF transformers
// (scripts/check_hf_transformers.py). Usage:
//   node packages/native/scripts/export-logits.mjs CKPT_DIR OUT.json [--seqs 3] [--len 24] [--seed 1]
// Token ids are drawn with a fixed seed; the file holds {tokens: number[][], logits: number[][][]} (per sequence,
// per position, the full vocabulary row).
import { writeFileSync } from 'node:fs';

import { loadModel } from '@stepwise/native';

const [ckpt, out, ...rest] = process.argv.slice(2);
if (!ckpt || !out) {
  console.error('usage: export-logits.mjs CKPT_DIR OUT.json [--seqs N] [--len T] [--seed S]');
  process.exit(2);
}
const opt = (name, def) => {
  const i = rest.indexOf(`--${name}`);
  const v = i >= 0 ? Number(rest[i + 1]) : def;
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name}: expected a positive integer, got ${rest[i + 1]}`);
    process.exit(2);
  }
  return v;
};
const seqs = opt('seqs', 3);
const len = opt('len', 24);
let state = opt('seed', 1) >>> 0;
const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);

const model = loadModel(ckpt);
const V = model.config.vocabSize;
const tokens = Array.from({ length: seqs }, () => Array.from({ length: Math.min(len, model.config.maxSeqLen) }, () => Math.floor(next() * V)));
const logits = [];
for (const seq of tokens) {
  const flat = await model.logits({ tokens: seq });
  logits.push(Array.from({ length: seq.length }, (_, t) => Array.from(flat.subarray(t * V, (t + 1) * V))));
}
writeFileSync(out, JSON.stringify({ checkpoint: ckpt, tokens, logits }));
console.log(`wrote ${seqs} sequences x ${len} positions x ${V} logits to ${out}`);
model.dispose();
