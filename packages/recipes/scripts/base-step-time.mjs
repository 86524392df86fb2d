#!/usr/bin/env node
// Wall-clock of the main job's base training (the full preset's 4 × 128 model, batch 16, seed 0) for STEPS steps:
// the driver behind docs/engine.md, "Threads and GEMMs" (timed as is, and under `perf record -g`). Prints one JSON
// line with the seconds, the milliseconds per step and the final loss; the loss shows whether a change to the
// native core moved results (same thread count, same build otherwise: it must repeat to the last digit).
//   node packages/recipes/scripts/base-step-time.mjs [STEPS=120]
import { merge, recipe, trainConfigBase, validateConfig } from '@stepwise/recipes';

const steps = Number(process.argv[2] ?? 120);
if (!Number.isInteger(steps) || steps <= 40) {
  console.error(`usage: base-step-time.mjs [STEPS]: STEPS must be an integer above the 40 warmup steps, got ${process.argv[2]}`);
  process.exit(2);
}
const c = validateConfig(merge(recipe('sppd').config('full'), { base: { steps } }));
const t0 = performance.now();
const r = await trainConfigBase(c);
const s = (performance.now() - t0) / 1000;
r.model.dispose();
console.log(JSON.stringify({ steps, s: +s.toFixed(2), msPerStep: +((1000 * s) / steps).toFixed(1), finalLoss: r.losses.at(-1) }));
