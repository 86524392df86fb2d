/**
 * The learned step scorers (@stepwise/prm) as the recipes use them, trained on a round's own tree solutions with N = 1
 * outcome labels, then scoring tree nodes (scorer 'prm') or beam-search candidates (eval.search 'beam').
 *
 * Context: the verifier reads prompt + solution in one sequence of at most the model's maxSeqLen tokens, the
 * same context the policy samples in. A solution that outgrows it (a depth-limited path of long steps) could
 * never be finished by the policy, so it is left out of the PRM's training data, and when scoring, its steps
 * past the context get value 0 (a state the policy cannot complete) while the steps that fit are scored.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CharTokenizer, type Problem, type Tree } from '@stepwise/core';
import { loadModel, saveModel } from '@stepwise/native';
import { encodeSolution, outcomeExamples, PrmScorer, SurpriseScorer, trainPrm, trainSurpriseHead } from '@stepwise/prm';
import type { StepScorer } from '@stepwise/search';
import type { PipelineConfig } from './config.js';
import { judge } from './judge.js';

const chars = new CharTokenizer();

/** A scorer over a model with a context limit: the PRM, or the surprise head over the policy. */
interface BoundedScorer {
  readonly model: { readonly config: { readonly maxSeqLen: number } };
  scoreMany(items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]>;
}

/** How many leading steps of `steps` fit the scorer's context. */
function fittingSteps(prm: BoundedScorer, problem: Problem, steps: readonly string[]): number {
  let k = steps.length;
  while (k > 0 && encodeSolution(chars, problem.question, steps.slice(0, k)).tokens.length > prm.model.config.maxSeqLen) k--;
  return k;
}

/** Scores many solutions; steps past the context get 0 (see the file comment). */
async function scoreBounded(prm: BoundedScorer, items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]> {
  const fit = items.map((it) => fittingSteps(prm, it.problem, it.steps));
  const scores = await prm.scoreMany(items.map((it, i) => ({ problem: it.problem, steps: it.steps.slice(0, fit[i]) })));
  return scores.map((v, i) => [...v, ...new Array<number>(items[i].steps.length - fit[i]).fill(0)]);
}

/**
 * A trained step scorer (the generative verifier PrmScorer, or the SurpriseScorer over the policy) as a
 * StepScorer that owns its model: steps past the model's context get 0 (see the file comment).
 */
export class LearnedPrm<S extends BoundedScorer & { readonly name: string; readonly model: { dispose(): void } } = PrmScorer> implements StepScorer {
  readonly name: string;
  constructor(readonly scorer: S) {
    this.name = scorer.name;
  }
  async score(problem: Problem, steps: readonly string[]): Promise<number[]> {
    return (await scoreBounded(this.scorer, [{ problem, steps }]))[0];
  }
  scoreMany(items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]> {
    return scoreBounded(this.scorer, items);
  }
  dispose(): void {
    this.scorer.model.dispose();
  }
}

/**
 * The learned PRM (a generative verifier on the engine), self-supervised as in Full-Step-DPO (methods.md
 * §4.1): initialised from the round's policy and trained on the round's own tree solutions with N = 1 outcome
 * labels — it sees only final answers. Seeded, so a resumed stage retrains the same weights; saved to `dir`.
 */
export async function learnedPrm(c: PipelineConfig, modelDir: string, trees: readonly Tree[], byId: Map<string, Problem>, dir: string): Promise<LearnedPrm> {
  const model = loadModel(modelDir);
  const solutions = treeSolutions(trees, byId, model.config.maxSeqLen);
  const r = await trainPrm({ model, examples: outcomeExamples(solutions, judge), steps: c.score.prmSteps, batchSize: 16, lr: 1e-3, seed: c.seed });
  r.optimizer.dispose();
  saveModel(model, dir);
  return new LearnedPrm(new PrmScorer(model, { name: 'prm:n=1' }));
}

/** The complete root-to-leaf solutions of a round's trees that fit the model's context. */
function treeSolutions(trees: readonly Tree[], byId: Map<string, Problem>, maxSeqLen: number): { problem: Problem; steps: string[] }[] {
  return trees
    .flatMap((t) => {
      const p = byId.get(t.problemId)!;
      return t.terminal.flatMap((term, leaf) => {
        if (!term) return [];
        const steps: string[] = [];
        for (let i = leaf; i > 0; i = t.parent[i]) steps.push(t.text[i]);
        return [{ problem: p, steps: steps.reverse() }];
      });
    })
    .filter((s) => encodeSolution(chars, s.problem.question, s.steps).tokens.length <= maxSeqLen);
}

/**
 * The surprise value head (docs/prm.md §7): a logistic layer over the round's policy's own token log-probs,
 * fitted to N = 1 outcome labels of the round's tree solutions (final answers only). A convex fit, so a
 * resumed stage refits the same head; written to `dir`/surprise-head.json for inspection.
 */
export async function surpriseValueHead(modelDir: string, trees: readonly Tree[], byId: Map<string, Problem>, dir: string): Promise<LearnedPrm<SurpriseScorer>> {
  const model = loadModel(modelDir);
  const solutions = treeSolutions(trees, byId, model.config.maxSeqLen);
  const head = await trainSurpriseHead(model, outcomeExamples(solutions, judge));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'surprise-head.json'), JSON.stringify(head, null, 2));
  return new LearnedPrm(new SurpriseScorer(model, head, { name: 'prm:surprise:n=1' }));
}

/** Every root-to-leaf path scored once; a node's value is its position's score (the same on every path). */
export async function prmTreeValues(prm: { scoreMany(items: readonly { problem: Problem; steps: readonly string[] }[]): Promise<number[][]> }, problem: Problem, tree: Tree): Promise<(number | null)[]> {
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
