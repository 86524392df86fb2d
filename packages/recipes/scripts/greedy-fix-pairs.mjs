#!/usr/bin/env node
// Step pairs aimed at the base model's own GREEDY errors, an upper-bound experiment for docs/experiments.md: greedy-
// decode N training problems, locate each wrong solution's first error with the ORACLE step checker (never
// used by the recipes), sample 8 alternatives for that step at temperature 1, and pair a correct one (oracle)
// over the greedy step. Train on them with stage-sweep.mjs (PAIRS=OUT.jsonl … sppd:LR:EPOCHS).
//   node packages/recipes/scripts/greedy-fix-pairs.mjs [N=1000] [OUT.jsonl] [BASE=runs/sppd/ckpt/base]
import { writeFileSync } from 'node:fs';
import { loadModel } from '@stepwise/native';
import { answerJudge } from '@stepwise/search';
import { greedyRollouts, loadConfig, policyFor } from '@stepwise/recipes';
import { stepValues, trainProblem } from '@stepwise/tasks';
const [N, outFile, baseDir] = [Number(process.argv[2] ?? 1000), process.argv[3] ?? '/tmp/greedy-fix.jsonl', process.argv[4] ?? 'runs/sppd/ckpt/base'];
const c = loadConfig({ recipe: 'sppd', preset: 'full' });
const model = loadModel(baseDir);
const policy = policyFor(model, c);
const problems = Array.from({ length: N }, (_, i) => trainProblem(1, 'greedy-fix', i));
const t0 = Date.now();
const g = await greedyRollouts(c, policy, problems, 'gf', 64);
const wrong = [];
g.forEach((r, i) => {
  if (r.correct) return;
  const v = stepValues(problems[i], r.steps);
  const k = v.findIndex((x) => x < 0.5);
  if (k >= 0) wrong.push({ problem: problems[i], prefix: r.steps.slice(0, k), bad: r.steps[k] });
});
console.log(`greedy ${g.filter((r) => r.correct).length}/${N} correct, ${wrong.length} with an oracle first error, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const pairs = [];
for (let at = 0; at < wrong.length; at += 32) {
  const chunk = wrong.slice(at, at + 32);
  const res = await policy.expand(chunk.map((w) => ({ problem: w.problem, steps: w.prefix })), 8, { temperature: 1.0, maxStepTokens: 48, seed: at });
  chunk.forEach((w, j) => {
    const seen = new Set();
    for (const cand of res[j]) {
      if (seen.has(cand.text) || cand.text === w.bad) continue;
      const v = stepValues(w.problem, [...w.prefix, cand.text]);
      if (v.at(-1) >= 0.5 && seen.size < 2) {
        seen.add(cand.text);
        pairs.push({ schema: 'stepwise.step-pair@1', problemId: w.problem.id, prompt: w.problem.question, prefixSteps: w.prefix, chosen: cand.text, rejected: w.bad, chosenValue: 1, rejectedValue: 0, rule: 'sppd-siblings' });
      }
    }
  });
  policy.release?.(res.flat().map((x) => x.handle));
}
writeFileSync(outFile, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
console.log(`${pairs.length} pairs from ${new Set(pairs.map((p) => p.problemId)).size} problems → ${outFile}; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(pairs.slice(0, 3).map((p) => `${p.chosen} ≻ ${p.rejected}`).join('\n'));
policy.dispose();
