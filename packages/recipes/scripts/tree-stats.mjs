#!/usr/bin/env node
// What SPPD tree self-sampling gives on the embedded task with a trained model (issue #5, docs/search.md §Measured):
//   1. the share of correct complete paths in the trees vs the model's plain sampling accuracy at the same
//      temperature on the same problems (both with a 95% problem-level bootstrap interval, because paths of one
//      tree share prefixes and are not independent draws);
//   2. among problems whose tree has both correct and wrong complete paths, the share that yield at least one
//      sibling pair with |ΔV| > threshold under the oracle step checker and under Monte-Carlo rollouts.
//
//   node packages/recipes/scripts/tree-stats.mjs --ckpt DIR [--level 1] [--problems 64] [--iterations 16]
//     [--children 2] [--walkers 16] [--temperature 0.8] [--max-depth 8] [--max-step-tokens 48]
//     [--rollouts 4] [--samples 4] [--threshold 0.5] [--seed 0] [--json OUT]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { EnginePolicy } from '@stepwise/backends';
import { Rng, toScoredTree } from '@stepwise/core';
import { loadModel } from '@stepwise/native';
import { sppdSiblingPairs, TreeView } from '@stepwise/pairs';
import { monteCarloTreeValues, rollouts } from '@stepwise/recipes';
import { answerJudge, treeSample } from '@stepwise/search';
import { oracleScorer, trainProblem } from '@stepwise/tasks';

const { values: a } = parseArgs({
  options: {
    ckpt: { type: 'string' }, level: { type: 'string', default: '1' }, problems: { type: 'string', default: '64' },
    iterations: { type: 'string', default: '16' }, children: { type: 'string', default: '2' }, walkers: { type: 'string', default: '16' },
    temperature: { type: 'string', default: '0.8' }, 'max-depth': { type: 'string', default: '8' }, 'max-step-tokens': { type: 'string', default: '48' },
    rollouts: { type: 'string', default: '4' }, samples: { type: 'string', default: '4' }, threshold: { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '0' }, json: { type: 'string' },
  },
});
if (!a.ckpt) {
  console.error('--ckpt: expected a checkpoint directory (e.g. runs/sppd/ckpt/base)');
  process.exit(2);
}
const num = (k) => {
  const v = Number(a[k]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`--${k}: expected a non-negative number, got ${a[k]}`);
    process.exit(2);
  }
  return v;
};
const level = num('level');
const temperature = num('temperature');
const maxDepth = num('max-depth');
const maxStepTokens = num('max-step-tokens');
const threshold = num('threshold');
const judge = answerJudge();
const model = loadModel(a.ckpt);
const problems = Array.from({ length: num('problems') }, (_, i) => trainProblem(level, `tree-stats/${a.seed}`, i));

/** Values of every node of `tree` from `score(stepsToNode)`; the root has none. */
async function nodeValues(tree, score) {
  const value = tree.parent.map(() => null);
  for (let i = 1; i < tree.parent.length; i++) {
    const steps = [];
    for (let j = i; j > 0; j = tree.parent[j]) steps.push(tree.text[j]);
    value[i] = await score(steps.reverse());
  }
  return value;
}

const perProblem = [];
const t0 = performance.now();
for (const [i, p] of problems.entries()) {
  const policy = new EnginePolicy(model, { cacheBytes: 96 * 2 ** 20, maxStepTokens });
  try {
    const sampling = { temperature, maxStepTokens };
    const { tree } = await treeSample(p, policy, judge, {
      iterations: num('iterations'), children: num('children'), walkers: num('walkers'), maxDepth, sampling, seed: `tree-stats/${a.seed}/${i}`,
    });
    const complete = tree.terminal.map((t, n) => (t ? tree.correct[n] : null)).filter((x) => x !== null);
    const correctPaths = complete.filter(Boolean).length;
    const oracle = await nodeValues(tree, async (steps) => (await oracleScorer.score(p, steps)).at(-1));
    const mc = await monteCarloTreeValues(policy, judge, p, tree, num('rollouts'), { sampling, maxDepth, seed: `tree-stats/${a.seed}/${i}/mc` });
    const pairsUnder = (value, name) => sppdSiblingPairs(new TreeView(toScoredTree(tree, value, name)), p, { threshold }).length;
    const samples = await rollouts(policy, judge, Array.from({ length: num('samples') }, () => ({ problem: p, prefix: [] })), { sampling, maxDepth, seed: `tree-stats/${a.seed}/${i}/plain` });
    perProblem.push({
      id: p.id, nodes: tree.parent.length, completePaths: complete.length, correctPaths,
      samples: samples.length, samplesCorrect: samples.filter((s) => s.correct).length,
      mixed: correctPaths > 0 && correctPaths < complete.length,
      oraclePairs: pairsUnder(oracle, 'oracle'), mcPairs: pairsUnder(mc, `mc:n=${a.rollouts}:soft`),
    });
  } finally {
    policy.dispose();
  }
  if ((i + 1) % 8 === 0) console.error(`[tree-stats] ${i + 1}/${problems.length} problems, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
model.dispose();

/** Ratio estimate sum(num)/sum(den) with a 95% bootstrap interval over problems (2000 resamples, seeded). */
function ratio(rows, numOf, denOf) {
  const est = (rs) => {
    const d = rs.reduce((s, r) => s + denOf(r), 0);
    return d === 0 ? NaN : rs.reduce((s, r) => s + numOf(r), 0) / d;
  };
  const rng = new Rng(`tree-stats/bootstrap/${a.seed}`);
  const boots = [];
  for (let b = 0; b < 2000; b++) boots.push(est(rows.map(() => rows[rng.int(rows.length)])));
  const ok = boots.filter(Number.isFinite).sort((x, y) => x - y);
  return { estimate: est(rows), lo: ok[Math.floor(0.025 * ok.length)], hi: ok[Math.ceil(0.975 * ok.length) - 1], n: rows.reduce((s, r) => s + denOf(r), 0) };
}
const fmt = (r) => `${(100 * r.estimate).toFixed(1)}% [${(100 * r.lo).toFixed(1)}, ${(100 * r.hi).toFixed(1)}] (n=${r.n})`;
const tree = ratio(perProblem, (r) => r.correctPaths, (r) => r.completePaths);
const sampling = ratio(perProblem, (r) => r.samplesCorrect, (r) => r.samples);
const mixed = perProblem.filter((r) => r.mixed);
const oracleShare = ratio(mixed, (r) => (r.oraclePairs > 0 ? 1 : 0), () => 1);
const mcShare = ratio(mixed, (r) => (r.mcPairs > 0 ? 1 : 0), () => 1);
const summary = {
  ckpt: a.ckpt, level, problems: problems.length, temperature, iterations: num('iterations'), children: num('children'), rollouts: num('rollouts'),
  treeCorrectPathShare: tree, samplingAccuracy: sampling,
  treeShareInsideSamplingInterval: tree.estimate >= sampling.lo && tree.estimate <= sampling.hi,
  mixedProblems: mixed.length, mixedWithOraclePair: oracleShare, mixedWithMcPair: mcShare,
  seconds: (performance.now() - t0) / 1000,
};
console.log(`tree sampling: correct share of complete paths ${fmt(tree)}`);
console.log(`plain sampling at T=${temperature}: accuracy ${fmt(sampling)}`);
console.log(`tree share inside the sampling interval: ${summary.treeShareInsideSamplingInterval}`);
console.log(`problems with both correct and wrong paths: ${mixed.length} of ${problems.length}`);
console.log(`  with a sibling pair |ΔV| > ${threshold} under the oracle: ${fmt(oracleShare)}`);
console.log(`  with a sibling pair |ΔV| > ${threshold} under MC (${a.rollouts} rollouts): ${fmt(mcShare)}`);
if (a.json) writeFileSync(a.json, JSON.stringify({ summary, perProblem }, null, 2) + '\n');
