// Shared by the experiment scripts: greedy correctness on a run's held-out problems (the pipeline's greedy
// column), cached per checkpoint, and the one-line paired comparison against the base that docs/experiments.md
// tables quote.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
