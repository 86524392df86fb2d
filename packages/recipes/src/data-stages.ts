/**
 * The data stages of one round: sample (trees), score (scored trees), pairs. Each writes one JSONL file in
 * the run directory; sample and score append one record per problem (ResumableJsonl keyed by problem id),
 * so a stage killed half-way continues from the last whole record and never writes one twice. Every record
 * is a function of (config, problem, round) only — its seeds derive from them and each problem gets a fresh
 * policy — so an interrupted and an uninterrupted run write the same files.
 */
import { CharTokenizer, readJsonl, ResumableJsonl, toScoredTree, validateScoredTree, validateTree, writeFileAtomic, type PreferencePair, type Problem, type ScoredTree, type Tree } from '@stepwise/core';
import { EnginePolicy } from '@stepwise/backends';
import { loadModel, type Model } from '@stepwise/native';
import { dedupPairs, firstErrorPairs, outcomePairs, qValuePairs, sentenceLevelPair, sphereRoute, sppdSiblingPairs, topBottomPairs, TreeView, type Solution } from '@stepwise/pairs';
import { answerJudge, treeSample } from '@stepwise/search';
import { oracleScorer, trainProblem, type Level } from '@stepwise/tasks';
import { outcomeExamples, PrmScorer, trainPrm } from '@stepwise/prm';
import { saveModel } from '@stepwise/native';
import type { PairData, PipelineConfig } from './config.js';
import { monteCarloTreeValues, outcomeTreeValues } from './rollouts.js';

export const judge = answerJudge();
export const tokenizer = new CharTokenizer();

/** The round's training problems (disjoint from the test split by construction in tasks). */
export function trainProblems(c: PipelineConfig, round: number): Problem[] {
  return c.task.levels.flatMap((l) => Array.from({ length: c.task.trainProblems }, (_, i) => trainProblem(l as Level, `${c.seed}/r${round}`, i)));
}

/** A policy over `model` for one problem's work: fresh per problem so no cache state carries over. */
export function policyFor(model: Model, c: PipelineConfig): EnginePolicy {
  return new EnginePolicy(model, { cacheBytes: 96 * 2 ** 20, maxStepTokens: c.sample.maxStepTokens });
}

export type Tick = (done: number, total: number) => void;

export async function sampleStage(c: PipelineConfig, round: number, modelDir: string, out: string, tick: Tick): Promise<Record<string, number>> {
  const problems = trainProblems(c, round);
  const file = await ResumableJsonl.open<Tree>(out, { validate: (v) => validateTree(v), key: (t) => t.problemId });
  const model = loadModel(modelDir);
  let tokens = 0;
  try {
    for (const [i, p] of problems.entries()) {
      if (file.has(p.id)) continue;
      const policy = policyFor(model, c);
      try {
        const s = c.sample;
        const r = await treeSample(p, policy, judge, {
          iterations: s.iterations,
          children: s.children,
          walkers: s.walkers,
          maxDepth: s.maxDepth,
          sampling: { temperature: s.temperature, maxStepTokens: s.maxStepTokens },
          seed: `${c.seed}/r${round}/sample`,
        });
        tokens += r.tokensGenerated;
        await file.append(r.tree);
      } finally {
        policy.dispose();
      }
      tick(i + 1, problems.length);
    }
  } finally {
    await file.close();
    model.dispose();
  }
  const { records } = await readJsonl(out, { validate: (v) => validateTree(v) });
  const sols = records.flatMap((t) => t.terminal.map((term, i) => (term ? t.correct[i] : null)).filter((x) => x !== null));
  return { problems: records.length, nodes: records.reduce((a, t) => a + t.parent.length, 0), solutions: sols.length, solutionAccuracy: sols.filter(Boolean).length / Math.max(1, sols.length), tokensThisAttempt: tokens };
}

export async function scoreStage(c: PipelineConfig, round: number, modelDir: string, treesPath: string, out: string, tick: Tick, prmDir: string): Promise<Record<string, number | string>> {
  const byId = new Map(trainProblems(c, round).map((p) => [p.id, p]));
  const { records: trees } = await readJsonl(treesPath, { validate: (v) => validateTree(v) });
  const file = await ResumableJsonl.open<ScoredTree>(out, { validate: (v) => validateScoredTree(v), key: (t) => t.problemId });
  const model = c.score.scorer === 'mc' ? loadModel(modelDir) : null;
  const name = { mc: `mc:n=${c.score.rollouts}:soft`, outcome: 'outcome:walks', oracle: 'oracle', prm: `prm:n=1:steps=${c.score.prmSteps}` }[c.score.scorer];
  const prm = c.score.scorer === 'prm' ? await learnedPrm(c, modelDir, trees, byId, prmDir) : null;
  try {
    for (const [i, tree] of trees.entries()) {
      if (file.has(tree.problemId)) continue;
      const problem = byId.get(tree.problemId)!;
      let value: (number | null)[];
      if (c.score.scorer === 'mc') {
        const policy = policyFor(model!, c);
        try {
          value = await monteCarloTreeValues(policy, judge, problem, tree, c.score.rollouts, { sampling: { temperature: c.score.temperature, maxStepTokens: c.sample.maxStepTokens }, maxDepth: c.sample.maxDepth, seed: `${c.seed}/r${round}` });
        } finally {
          policy.dispose();
        }
      } else if (prm) {
        value = await prmTreeValues(prm, problem, tree);
      } else if (c.score.scorer === 'outcome') {
        value = outcomeTreeValues(tree);
      } else {
        value = await oracleValues(problem, tree);
      }
      const scored = toScoredTree(tree, value, name);
      // SVPO's pair rule reads Q and visits: Q = 2·V − 1 in [−1, 1] (its terminal-reward scale), visits = rollouts.
      scored.stats = { ...scored.stats, q: value.map((v) => (v === null ? 0 : 2 * v - 1)), visits: value.map((v, j) => (v === null || j === 0 ? 0 : c.score.rollouts)) };
      await file.append(scored);
      tick(i + 1, trees.length);
    }
  } finally {
    await file.close();
    model?.dispose();
    prm?.model.dispose();
  }
  return { trees: trees.length, scorer: name };
}

/**
 * The learned PRM (@stepwise/prm, a generative verifier on the engine), self-supervised as in Full-Step-DPO
 * (methods.md §4.1): initialised from the round's policy and trained on the round's own tree solutions with
 * N = 1 outcome labels — it sees only final answers. Trained once per round (seeded, so a resumed stage
 * retrains the same weights) and saved to ckpt/prm[-rK]/.
 */
async function learnedPrm(c: PipelineConfig, modelDir: string, trees: readonly Tree[], byId: Map<string, Problem>, dir: string): Promise<PrmScorer> {
  const solutions = trees.flatMap((t) => {
    const p = byId.get(t.problemId)!;
    return t.terminal.flatMap((term, leaf) => {
      if (!term) return [];
      const steps: string[] = [];
      for (let i = leaf; i > 0; i = t.parent[i]) steps.push(t.text[i]);
      return [{ problem: p, steps: steps.reverse() }];
    });
  });
  const model = loadModel(modelDir);
  const r = await trainPrm({ model, examples: outcomeExamples(solutions, judge), steps: c.score.prmSteps, batchSize: 16, lr: 1e-3, seed: c.seed });
  r.optimizer.dispose();
  saveModel(model, dir);
  return new PrmScorer(model, { name: 'prm:n=1' });
}

/** Every root-to-leaf path scored once; a node's value is its position's score (the same on every path). */
async function prmTreeValues(prm: PrmScorer, problem: Problem, tree: Tree): Promise<(number | null)[]> {
  const value: (number | null)[] = tree.parent.map(() => null);
  const hasChild = tree.parent.map(() => false);
  for (let i = 1; i < tree.parent.length; i++) hasChild[tree.parent[i]] = true;
  const paths: number[][] = [];
  for (let i = 1; i < tree.parent.length; i++) {
    if (hasChild[i]) continue;
    const path: number[] = [];
    for (let j = i; j > 0; j = tree.parent[j]) path.push(j);
    paths.push(path.reverse());
  }
  const scores = await prm.scoreMany(paths.map((path) => ({ problem, steps: path.map((j) => tree.text[j]) })));
  paths.forEach((path, k) => path.forEach((node, d) => (value[node] ??= scores[k][d] ?? null)));
  return value;
}

async function oracleValues(problem: Problem, tree: Tree): Promise<(number | null)[]> {
  const value: (number | null)[] = tree.parent.map(() => null);
  for (let i = 1; i < tree.parent.length; i++) {
    const steps: string[] = [];
    for (let j = i; j > 0; j = tree.parent[j]) steps.push(tree.text[j]);
    value[i] = (await oracleScorer.score(problem, steps.reverse())).at(-1)!;
  }
  return value;
}

/** SPHERE's routes on a scored tree: always follow the highest (lowest) valued child to a terminal node. */
function route(view: TreeView, pick: 'max' | 'min'): Solution | null {
  let node = 0;
  while (view.children[node].length > 0) {
    const kids = view.children[node];
    const v = (k: number) => view.value(k) ?? 0.5;
    node = kids.reduce((a, b) => ((pick === 'max' ? v(b) > v(a) : v(b) < v(a)) ? b : a));
  }
  if (!view.tree.terminal[node]) return null;
  return view.solutions().find((s) => s.nodes.at(-1) === node) ?? null;
}

export function selectPairs(c: PipelineConfig, kind: PairData, view: TreeView, problem: Problem): PreferencePair[] {
  const sols = view.solutions();
  switch (kind) {
    case 'sentence': {
      const p = sentenceLevelPair(problem, sols);
      return p ? [p] : [];
    }
    case 'siblings':
      return sppdSiblingPairs(view, problem, { threshold: c.pairs.threshold, maxPerProblem: c.pairs.maxStepPairsPerProblem });
    case 'top-bottom':
      return topBottomPairs(problem, sols, { t: c.pairs.topBottomT });
    case 'outcome':
      return outcomePairs(problem, sols, { maxPerProblem: c.pairs.outcomePerProblem });
    case 'first-error':
      return firstErrorPairs(view, problem).slice(0, c.pairs.maxStepPairsPerProblem);
    case 'q-value':
      return qValuePairs(view, problem, { minGap: c.pairs.threshold * 2, capPerNode: 1 }).slice(0, c.pairs.maxStepPairsPerProblem);
    case 'max-min': {
      const [hi, lo] = [route(view, 'max'), route(view, 'min')];
      if (!hi || !lo || hi.correct === null || lo.correct === null) return [];
      const r = sphereRoute(problem, hi, lo);
      return r.route === 'pair' ? [r.pair] : [];
    }
  }
}

export async function pairsStage(c: PipelineConfig, round: number, kinds: readonly PairData[], scoredPath: string, out: string): Promise<Record<string, number>> {
  const byId = new Map(trainProblems(c, round).map((p) => [p.id, p]));
  const { records } = await readJsonl(scoredPath, { validate: (v) => validateScoredTree(v) });
  const all: PreferencePair[] = [];
  const counts: Record<string, number> = {};
  for (const kind of new Set(kinds)) {
    const picked = dedupPairs(records.flatMap((t) => selectPairs(c, kind, new TreeView(t), byId.get(t.problemId)!)));
    counts[kind] = picked.length;
    all.push(...picked);
  }
  // Pairs are cheap to recompute: the file is written whole, atomically.
  await writeFileAtomic(out, all.map((p) => JSON.stringify(p) + '\n').join(''));
  return counts;
}
