#!/usr/bin/env node
// How held-out greedy accuracy responds to SFT data (docs/experiments.md, "What moves greedy accuracy: the number of
// problems"). Builds one SFT set, fine-tunes the base on it with each LR:EPOCHS, and compares greedy accuracy on the
// run's held-out problems with the base (paired, exact McNemar p). The sets:
//   self:N:K   the base's own samples (temperature T, default 0.8) of N fresh training problems, K per problem,
//              kept when the final answer is right (rejection sampling; final answers only), distinct texts;
//   clean:N    the task's exact solutions of N fresh training problems (an oracle control, not a method);
//   tau:RUN    τ⁺ (the correct solution whose weakest step value is strongest) of every problem of RUN's scored
//              round-1 trees that has a correct solution, including those without a wrong one.
//   node packages/recipes/scripts/sft-data-scale.mjs RUN_DIR OUT_DIR SET LR:EPOCHS [LR:EPOCHS …]
// RUN_DIR gives the base (ckpt/base) and the held-out problems (its config); it is only read.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '@stepwise/core';
import { loadModel } from '@stepwise/native';
import { tauPlus, TreeView } from '@stepwise/pairs';
import { judge, policyFor, resolveTrainerConfig, rollouts, tokenizer, train, trainProblems } from '@stepwise/recipes';
import { corpusRecord, trainProblem } from '@stepwise/tasks';
import { heldOutGreedy, pct, versusBase } from './held-out.mjs';

const [run, out, set, ...stages] = process.argv.slice(2);
if (!run || !out || !set || stages.length === 0) {
  console.error('usage: sft-data-scale.mjs RUN_DIR OUT_DIR self:N:K|clean:N|tau:RUN LR:EPOCHS …');
  process.exit(2);
}
if (!existsSync(join(run, 'manifest.json')) || !existsSync(join(run, 'ckpt/base/config.json'))) {
  console.error(`sft-data-scale: ${run} is not a run directory with a base model (manifest.json, ckpt/base)`);
  process.exit(2);
}
const c = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).config;
const baseDir = join(run, 'ckpt/base');
mkdirSync(out, { recursive: true });

const greedy = (dir, name) => heldOutGreedy(c, out, dir, name);

async function buildSet() {
  const [kind, a, b] = set.split(':');
  const level = c.task.levels[0];
  // Seeds 'rft' / 'rftclean': fresh problem streams, disjoint from every run's rounds and from the test split.
  const fresh = (n) => Array.from({ length: n }, (_, i) => trainProblem(level, 'rft', i));
  if (kind === 'clean') {
    return Array.from({ length: Number(a) }, (_, i) => {
      const r = corpusRecord({ seed: 'rftclean', levels: [level], errorRate: 0 }, i);
      return { problemId: r.problem.id, prompt: r.problem.question, steps: r.steps };
    });
  }
  if (kind === 'self') {
    const problems = fresh(Number(a));
    const k = Number(b);
    const model = loadModel(baseDir);
    const policy = policyFor(model, c);
    try {
      const starts = problems.flatMap((problem) => Array.from({ length: k }, () => ({ problem, prefix: [] })));
      // 128 starts per batch: 256 can exceed the policy's K/V budget with long wrong solutions.
      const rs = await rollouts(policy, judge, starts, { sampling: { temperature: Number(process.env.T ?? 0.8), maxStepTokens: c.sample.maxStepTokens }, maxDepth: c.sample.maxDepth, seed: 'rft', chunk: 128 });
      const seen = new Set();
      const ex = [];
      rs.forEach((r, i) => {
        const p = problems[Math.floor(i / k)];
        const key = `${p.id}\n${r.steps.join('\n')}`;
        if (r.correct && !seen.has(key)) ex.push({ problemId: p.id, prompt: p.question, steps: r.steps }), seen.add(key);
      });
      console.log(`sampled ${rs.length} solutions, ${rs.filter((r) => r.correct).length} correct`);
      return ex;
    } finally {
      policy.dispose();
      model.dispose();
    }
  }
  if (kind === 'tau') {
    const src = a ?? run;
    const sc = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')).config;
    const byId = new Map(trainProblems(sc, 1).map((p) => [p.id, p]));
    const { records } = await readJsonl(join(src, 'scored.jsonl'));
    return records.flatMap((t) => {
      const best = tauPlus(new TreeView(t).solutions());
      const p = byId.get(t.problemId);
      return best ? [{ problemId: p.id, prompt: p.question, steps: best.steps }] : [];
    });
  }
  console.error(`sft-data-scale: SET must be self:N:K, clean:N or tau[:RUN], got '${set}'`);
  process.exit(2);
}

const setFile = join(out, `set-${set.replace(/[^\w.-]+/g, '_')}.json`);
const examples = existsSync(setFile) ? JSON.parse(readFileSync(setFile, 'utf8')) : await buildSet();
writeFileSync(setFile, JSON.stringify(examples));
const base = await greedy(baseDir, 'base');
console.log(`${set}: ${examples.length} SFT examples; base greedy ${pct(base)}% on ${base.length} problems`);
for (const spec of stages) {
  const [lr, epochs] = spec.split(':').map(Number);
  const name = `${set}-${spec}`.replace(/[^\w.-]+/g, '_');
  const dir = join(out, name);
  const t0 = performance.now();
  if (!existsSync(join(dir, 'config.json'))) {
    await train({ initDir: baseDir, tokenizer, data: examples, config: resolveTrainerConfig({ objective: 'sft', lr, epochs, checkpointEvery: 0 }), dir, metricsPath: join(out, 'metrics.jsonl'), stage: name });
  }
  const g = await greedy(dir, name);
  console.log(`sft ${spec}: ${((performance.now() - t0) / 1000).toFixed(0)} s → ${versusBase(base, g)}`);
}
