/**
 * The data stages of one round: sample (trees), score (scored trees), pairs. Each writes one JSONL file in
 * the run directory; sample and score append one record per problem (ResumableJsonl keyed by problem id),
 * so a stage killed half-way continues from the last whole record and never writes one twice. Every record
 * is a function of (config, problem, round) only — its seeds derive from them, and each fixed batch of
 * `sample.batchProblems` problems gets a fresh policy and is rerun whole after a kill — so an interrupted and an
 * uninterrupted run write the same files.
 */
import { readJsonl, ResumableJsonl, toScoredTree, validateScoredTree, validateTree, writeFileAtomic, type PreferencePair, type Problem, type ScoredTree, type Tree } from '@stepwise/core';
import { EnginePolicy } from '@stepwise/backends';
import { loadModel, type Model } from '@stepwise/native';
import { dedupPairs, TreeView } from '@stepwise/pairs';
import { oracleScorer, trainProblem, type Level } from '@stepwise/tasks';
import type { PairData, PipelineConfig } from './config.js';
import { StageError } from './errors.js';
import { judge } from './judge.js';
import { selectPairs } from './pair-rules.js';
import { learnedPrm, surpriseValueHead, prmTreeValues } from './prm-values.js';
import { monteCarloTreeValues, outcomeTreeValues } from './rollouts.js';
import { sampleProblem, sphereRouteCounts } from './samplers.js';

export { judge, tokenizer } from './judge.js';

/**
 * The round's training problems (disjoint from the test split by construction in tasks): `rounds[k].problems`
 * per level, capped by task.trainProblems, so a config that scales the task down scales every round with it.
 */
export function trainProblems(c: PipelineConfig, round: number): Problem[] {
  const n = Math.min(c.rounds[round - 1]?.problems ?? c.task.trainProblems, c.task.trainProblems);
  return c.task.levels.flatMap((l) => Array.from({ length: n }, (_, i) => trainProblem(l as Level, `${c.seed}/r${round}`, i)));
}

/**
 * K/V tokens for `problems` problems' searches or Monte-Carlo rollouts at the embedded task's scale (a tree holds
 * ~1.5k tokens, a node's rollouts ~1k more), with room to spare: 8k per problem over a 16k floor.
 */
export const problemTokens = (problems: number): number => 16384 + 8192 * problems;

/**
 * A policy over `model` whose K/V pool holds `cacheTokens` tokens (default: one problem's work), fresh per
 * batch of work so no cache state carries over.
 */
export function policyFor(model: Model, c: PipelineConfig, cacheTokens = problemTokens(1)): EnginePolicy {
  return new EnginePolicy(model, { cacheTokens, maxStepTokens: c.sample.maxStepTokens });
}

/**
 * Runs `work` for the problems of each fixed batch [k·B, (k+1)·B) concurrently on one policy (their expand calls
 * merge), and hands the results to `keep` in problem order. A batch with every problem already done is skipped;
 * one with some done runs whole, so its members see the same batch as in an uninterrupted run.
 */
async function inBatches<P, R>(
  c: PipelineConfig,
  model: Model,
  items: readonly P[],
  done: (p: P) => boolean,
  work: (policy: EnginePolicy, p: P) => Promise<R>,
  keep: (p: P, r: R) => Promise<void>,
  tick: Tick,
): Promise<void> {
  const B = c.sample.batchProblems;
  for (let at = 0; at < items.length; at += B) {
    const batch = items.slice(at, at + B);
    if (batch.every(done)) continue;
    const policy = policyFor(model, c, problemTokens(batch.length));
    let settled: PromiseSettledResult<R>[];
    try {
      settled = await Promise.allSettled(batch.map((p) => work(policy, p)));
    } finally {
      policy.dispose();
    }
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    for (const [k, p] of batch.entries()) if (!done(p)) await keep(p, (settled[k] as PromiseFulfilledResult<R>).value);
    tick(at + batch.length, items.length);
  }
}

export type Tick = (done: number, total: number) => void;

export async function sampleStage(c: PipelineConfig, round: number, modelDir: string, out: string, tick: Tick): Promise<Record<string, number>> {
  const problems = trainProblems(c, round);
  const file = await ResumableJsonl.open<Tree>(out, { validate: (v) => validateTree(v), key: (t) => t.problemId });
  const model = loadModel(modelDir);
  let tokens = 0;
  try {
    await inBatches(
      c,
      model,
      problems,
      (p) => file.has(p.id),
      (policy, p) => sampleProblem(c, round, policy, p),
      async (_, r) => {
        tokens += r.tokens;
        await file.append(r.tree);
      },
      tick,
    );
  } finally {
    await file.close();
    model.dispose();
  }
  const { records } = await readJsonl(out, { validate: (v) => validateTree(v) });
  const sols = records.flatMap((t) => t.terminal.map((term, i) => (term ? t.correct[i] : null)).filter((x) => x !== null));
  return {
    problems: records.length,
    nodes: records.reduce((a, t) => a + t.parent.length, 0),
    solutions: sols.length,
    solutionAccuracy: sols.filter(Boolean).length / Math.max(1, sols.length),
    tokensThisAttempt: tokens,
    ...(c.sample.sampler === 'pruned' ? sphereRouteCounts(records) : {}),
  };
}

export async function scoreStage(c: PipelineConfig, round: number, modelDir: string, treesPath: string, out: string, tick: Tick, prmDir: string): Promise<Record<string, number | string>> {
  const byId = new Map(trainProblems(c, round).map((p) => [p.id, p]));
  const { records: trees } = await readJsonl(treesPath, { validate: (v) => validateTree(v) });
  const file = await ResumableJsonl.open<ScoredTree>(out, { validate: (v) => validateScoredTree(v), key: (t) => t.problemId });
  const model = c.score.scorer === 'mc' ? loadModel(modelDir) : null;
  const name = scorerName(c);
  const prm =
    c.score.scorer === 'prm' ? await learnedPrm(c, modelDir, trees, byId, prmDir)
    : c.score.scorer === 'surprise' ? await surpriseValueHead(modelDir, trees, byId, prmDir)
    : null;
  try {
    if (model) {
      // Monte-Carlo values: the rollouts of a batch of trees decode together.
      const mc = { sampling: { temperature: c.score.temperature, maxStepTokens: c.sample.maxStepTokens }, maxDepth: c.sample.maxDepth, seed: `${c.seed}/r${round}` };
      await inBatches(
        c,
        model,
        trees,
        (t) => file.has(t.problemId),
        (policy, t) => monteCarloTreeValues(policy, judge, byId.get(t.problemId)!, t, c.score.rollouts, mc),
        (t, value) => file.append(toScoredTree(t, value, name)),
        tick,
      );
    } else for (const [i, tree] of trees.entries()) {
      // Every other scorer values one tree at a time without decoding.
      if (file.has(tree.problemId)) continue;
      const problem = byId.get(tree.problemId)!;
      let value: (number | null)[];
      if (c.score.scorer === 'search') {
        value = searchValues(c, tree);
      } else if (prm) {
        value = await prmTreeValues(prm, problem, tree);
      } else if (c.score.scorer === 'outcome') {
        value = outcomeTreeValues(tree);
      } else {
        value = await oracleValues(problem, tree);
      }
      // The tree's sampler statistics (MCTS visits and Q, pruned-search roles) travel with the values.
      await file.append(toScoredTree(tree, value, name));
      tick(i + 1, trees.length);
    }
  } finally {
    await file.close();
    model?.dispose();
    prm?.dispose();
  }
  return { trees: trees.length, scorer: name };
}

/** The scored trees' `scorer` field: which values the pairs were selected with. */
export function scorerName(c: PipelineConfig): string {
  if (c.score.scorer !== 'search') return { mc: `mc:n=${c.score.rollouts}:soft`, outcome: 'outcome:walks', oracle: 'oracle', prm: `prm:n=1:steps=${c.score.prmSteps}`, surprise: 'prm:surprise:n=1' }[c.score.scorer];
  return c.sample.sampler === 'mcts' ? 'mcts-q' : `pruned:mc:n=${c.score.rollouts}:soft`;
}

/**
 * Values the search computed itself: MCTS → (Q + 1) / 2 of every visited node (Q is backed up from terminal
 * ±1 against the gold answer and rollout leaves); pruned search → its Monte-Carlo value of each kept step.
 */
function searchValues(c: PipelineConfig, tree: Tree): (number | null)[] {
  const st = tree.stats ?? {};
  if (c.sample.sampler === 'mcts') {
    const { q, visits } = st;
    if (!q || !visits) throw new StageError('score', `tree ${tree.problemId}: an MCTS tree must carry stats.q and stats.visits`);
    return tree.parent.map((_, i) => (i > 0 && visits[i] > 0 ? (q[i] + 1) / 2 : null));
  }
  if (!st.value) throw new StageError('score', `tree ${tree.problemId}: a pruned-search tree must carry stats.value`);
  return tree.parent.map((_, i) => (i > 0 ? st.value[i] : null));
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
