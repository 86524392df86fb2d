// Shared by the experiment scripts: greedy correctness on a run's held-out problems (the pipeline's greedy
// column), cached per checkpoint, and the one-line paired comparison against the base that docs/experiments.md
// tables quote. Run on its own, it compares checkpoints of a run directory with its base:
//   node packages/recipes/scripts/held-out.mjs RUN_DIR OUT_DIR NAME [NAME …]     (RUN_DIR/ckpt/NAME)
// With VS=NAME the reference is that checkpoint instead of the base (a stage against its own input).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pairedDifference } from '@stepwise/eval';
import { loadModel } from '@stepwise/native';
import { greedyRollouts, policyFor, testProblems } from '@stepwise/recipes';

/** Greedy correctness per held-out problem of config `c` for the checkpoint `dir`, cached as OUT/greedy-NAME.json. */
export async function heldOutGreedy(c, out, dir, name) {
  const file = join(out, `greedy-${name}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const model = loadModel(dir);
  const policy = policyFor(model, c);
  try {
    // 64 problems decode together: the batching of every number in docs/experiments.md's sweep tables.
    const correct = (await greedyRollouts(c, policy, testProblems(c), 'stage-sweep', 64)).map((r) => r.correct);
    writeFileSync(file, JSON.stringify(correct));
    return correct;
  } finally {
    policy.dispose();
    model.dispose();
  }
}

export const pct = (xs) => (100 * xs.filter(Boolean).length / xs.length).toFixed(1);

/** "greedy G%, vs base +D [lo, hi], p = P (base-only A / model-only B)" for a model against the base. */
export function versusBase(base, model) {
  const d = pairedDifference(base, model);
  const signed = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  return `greedy ${pct(model)}%, vs base ${signed(d.estimate)} [${signed(d.lo)}, ${signed(d.hi)}], p = ${d.pValue.toPrecision(2)} (base-only ${d.aOnly} / model-only ${d.bOnly})`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [run, out, ...names] = process.argv.slice(2);
  if (!run || !out || names.length === 0) {
    console.error('usage: held-out.mjs RUN_DIR OUT_DIR NAME [NAME …]');
    process.exit(2);
  }
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out, { recursive: true });
  const ref = process.env.VS ?? 'base';
  for (const need of ['manifest.json', ...[ref, ...names].map((n) => `ckpt/${n}/config.json`)]) {
    if (!existsSync(join(run, need))) {
      console.error(`held-out: ${run} has no ${need}`);
      process.exit(2);
    }
  }
  const c = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).config;
  const base = await heldOutGreedy(c, out, join(run, 'ckpt', ref), ref);
  console.log(`${ref}: greedy ${pct(base)}% on ${base.length} problems`);
  for (const name of names) console.log(`${name}: ${versusBase(base, await heldOutGreedy(c, out, join(run, 'ckpt', name), name)).replaceAll('base', ref)}`);
}
