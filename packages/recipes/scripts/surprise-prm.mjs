#!/usr/bin/env node
// The surprise value head (packages/prm/src/surprise.ts): trained on N = 1 outcome labels of the policy's own
// samples of TRAINING problems, evaluated by step-level AUC against the oracle on held-out TEST problems, on
// (A) the corpus-style imperfect solutions of docs/prm.md §5 and (B) the policy's own samples.
// Usage: node packages/recipes/scripts/surprise-prm.mjs [--policy runs/sppd/ckpt/base] [--levels 1]
//        [--train-problems 500] [--samples 4] [--temperature 0.8] [--per-level 300] [--seed 0] [--out FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel } from '@stepwise/native';
import { EnginePolicy } from '@stepwise/backends';
import { answerJudge } from '@stepwise/search';
import { rollouts } from '@stepwise/recipes';
import { stepValues, testSplit, trainProblems } from '@stepwise/tasks';
import { SurpriseScorer, bootstrapAuc, evaluateScorer, heldOutSolutions, outcomeExamples, surpriseFeatures, trainSurpriseHead } from '@stepwise/prm';

const { values: a } = parseArgs({
  options: Object.fromEntries(['policy', 'levels', 'train-problems', 'samples', 'temperature', 'per-level', 'seed', 'out'].map((k) => [k, { type: 'string' }])),
});
const num = (k, d) => (a[k] === undefined ? d : Number(a[k]));
const levels = (a.levels ?? '1').split(',').map(Number);
const seed = num('seed', 0);
const samples = num('samples', 4);
const temperature = num('temperature', 0.8);
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const model = await loadModel(a.policy ?? 'runs/sppd/ckpt/base');
const policy = new EnginePolicy(model, { cacheBytes: 96 * 2 ** 20, maxStepTokens: 48 });
const judge = answerJudge();
const sample = async (problems, tag) => {
  const starts = problems.flatMap((problem) => Array.from({ length: samples }, () => ({ problem, prefix: [] })));
  const sols = await rollouts(policy, judge, starts, { sampling: { temperature, maxStepTokens: 48 }, maxDepth: 8, seed: `surprise/${seed}/${tag}`, chunk: 128 });
  return sols.map((s, i) => ({ problem: starts[i].problem, steps: s.steps, correct: s.correct }));
};

// Train: N = 1 labels (every step gets its solution's final-answer correctness), no step-level supervision.
const trainSols = await sample(levels.flatMap((l) => trainProblems(l, num('train-problems', 500), `surprise-${seed}`)), 'train');
const examples = outcomeExamples(trainSols.filter((s) => s.steps.length > 0));
const head = await trainSurpriseHead(model, examples);
console.log(`[${secs()} s] trained on ${examples.length} sampled solutions (${(100 * examples.filter((e) => e.labels[0] === 1).length / examples.length).toFixed(1)}% correct), ${head.fit.prefixes} prefixes: weights ${head.weights.map((w) => w.toFixed(3)).join(' ')} bias ${head.bias.toFixed(3)}, loss ${head.fit.loss.toFixed(4)}, ${head.fit.iterations} Newton iterations`);
if (a.out) writeFileSync(a.out, JSON.stringify(head, null, 2));
const scorer = new SurpriseScorer(model, head);
const fmt = (e) => `${e.auc.toFixed(3)} [${e.lo.toFixed(3)}, ${e.hi.toFixed(3)}]`;

// (A) the held-out set of docs/prm.md §5: corpus-style imperfect solutions of test-split problems.
const heldOut = heldOutSolutions({ levels, perLevel: num('per-level', 300), seed });
const evA = await evaluateScorer(scorer, heldOut, { seed, resamples: 1000 });
// The single untrained feature (running min of the token log-probs), for comparison with the learned head.
const featA = await surpriseFeatures(model, heldOut);
const rawA = bootstrapAuc(heldOut.map((h, i) => ({ scores: featA[i].map((f) => f[0]), labels: h.oracle })), { seed, resamples: 1000 });
console.log(`[${secs()} s] (A) corpus-style held-out, ${evA.problems} problems, ${evA.steps} steps (${(100 * evA.positiveRate).toFixed(1)}% good): head AUC ${fmt(evA)}; running-min feature alone ${fmt(rawA)}`);

// (B) the policy's own samples of held-out test problems, labelled by the oracle.
const testSols = (await sample(levels.flatMap((l) => testSplit(l, num('per-level', 300))), 'test')).filter((s) => s.steps.length > 0);
const heldB = testSols.map((s) => ({ problem: s.problem, steps: s.steps, oracle: stepValues(s.problem, s.steps) }));
// Bootstrap over problems: a problem's samples share its arithmetic, so they resample together.
const scoresB = await scorer.scoreMany(heldB);
const byProblem = new Map();
heldB.forEach((h, i) => {
  const g = byProblem.get(h.problem.id) ?? { scores: [], labels: [] };
  g.scores.push(...scoresB[i]);
  g.labels.push(...h.oracle);
  byProblem.set(h.problem.id, g);
});
const evB = bootstrapAuc([...byProblem.values()], { seed, resamples: 1000 });
const stepsB = heldB.reduce((s, h) => s + h.oracle.length, 0);
const goodB = heldB.reduce((s, h) => s + h.oracle.reduce((x, y) => x + y, 0), 0) / stepsB;
console.log(`[${secs()} s] (B) the policy's own samples (T ${temperature}): ${heldB.length} solutions of ${byProblem.size} test problems, ${stepsB} steps (${(100 * goodB).toFixed(1)}% good): head AUC ${fmt(evB)}`);
