/**
 * The pipeline configuration: every field documented, defaulted by a recipe and a preset, and validated
 * with ConfigError naming the field (`sample.iterations`, `rounds[1].train[0].lr`, …).
 */
import { ConfigError } from './errors.js';
import { resolveTrainerConfig, type TrainerConfig } from './trainer-config.js';

/** Which pairs a training stage reads from pairs.jsonl (their `rule` field). */
export type PairData = 'sentence' | 'siblings' | 'top-bottom' | 'outcome' | 'first-error' | 'q-value' | 'max-min';
export const PAIR_DATA: readonly PairData[] = ['sentence', 'siblings', 'top-bottom', 'outcome', 'first-error', 'q-value', 'max-min'];
/** The `rule` each data kind's selector writes (packages/pairs). */
export const RULE_OF: Record<PairData, string> = {
  sentence: 'sppd-sentence',
  siblings: 'sppd-siblings',
  'top-bottom': 'full-step-dpo-top-bottom',
  outcome: 'dpo-outcome',
  'first-error': 'step-dpo-first-error',
  'q-value': 'svpo-q',
  'max-min': 'sphere-max-min',
};

export interface TrainStageSpec {
  /** Stage and checkpoint name (ckpt/<name>/); letters, digits, '-', '_'. */
  name: string;
  /** Row label in the report, e.g. "+SFT-PRM". */
  label: string;
  /** Pairs it trains on (SFT uses the chosen side of sequence pairs). */
  data: PairData;
  /** Trainer fields (trainer-config.ts); unspecified ones take the trainer defaults. */
  train: Partial<TrainerConfig>;
}

export interface RoundSpec {
  /**
   * Training problems per level of this round, at most task.trainProblems (the default). A later round (SPPD
   * stage 2) that re-samples only to refresh its step pairs may take fewer problems than round 1, whose τ⁺ feed
   * SFT; the cap keeps a config that lowers task.trainProblems (a test's tiny settings) from still sampling the
   * recipe's larger count in that round.
   */
  problems?: number;
  /** Train stages in order; each starts from the previous one's checkpoint (the first from the round's policy). */
  train: TrainStageSpec[];
}

/**
 * The base model's shape (a char-level Llama with tied embeddings; the vocabulary and the 272-token context are
 * fixed by the task). Head width hiddenSize / numHeads must be even (RoPE).
 */
export interface BaseModelShape {
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
}

export interface PipelineConfig {
  recipe: string;
  /** Seeds sampling, scoring and evaluation streams. */
  seed: number;
  task: {
    /** arith-v1 difficulty levels used for training and test problems (1–4). */
    levels: number[];
    /** Training problems per level per round (the round's trees). */
    trainProblems: number;
    /** Held-out test problems per level (tasks' fixed test split). */
    testProblems: number;
  };
  /** Pre-training of the embedded base model (backends' trainBaseModel). */
  base: { steps: number; batchSize: number; lr: number; warmupSteps: number; seed: number; model: BaseModelShape };
  /**
   * How the round's policy explores each training problem (docs/search.md):
   * - 'tree': SPPD tree self-sampling (methods.md §7.1): `iterations` = K walks, `children` = C, `walkers` walks
   *   advanced together;
   * - 'mcts': AlphaMath/SVPO MCTS (§5.2, §7.2): `iterations` = MCTS iterations, `children` = B2 (width), PUCT with
   *   `cPuct`, prior = geometric-mean token probability, terminal ±1 against the gold answer, leaves valued by one
   *   sampled rollout (±1 by its final answer: the engine has no value head);
   * - 'pruned': SPHERE's max/min pruned search (§6, §7.3) with `children` = E candidates per depth, each valued
   *   by `score.rollouts` Monte-Carlo rollouts; (wrong, wrong) routes re-search for a correction, (correct,
   *   correct) routes search the min branch with the weaker policy (temperature `weakTemperature`, 2E candidates).
   */
  sample: {
    sampler: Sampler;
    iterations: number;
    children: number;
    temperature: number;
    maxDepth: number;
    walkers: number;
    maxStepTokens: number;
    /** MCTS exploration constant (sampler 'mcts' only). */
    cPuct: number;
    /** SPHERE's smaller policy, played by the same model at this (higher) temperature (sampler 'pruned' only). */
    weakTemperature: number;
    /**
     * Problems searched (and, with score.scorer 'mc', rolled out) at once by one policy: their expand calls
     * merge into one batched decode. Every row keeps its own random stream, so this only sets speed and memory,
     * not the draws; the logits of a row can still differ in their last bits with the batch (other GEMM
     * shapes), so a run's records are reproducible for a fixed value.
     */
    batchProblems: number;
  };
  /**
   * Step values: 'mc' = Monte-Carlo rollouts that see only final answers (Math-Shepherd soft labels);
   * 'prm' = the learned PRM (@stepwise/prm) trained for `prmSteps` steps on the round's solutions with N = 1
   * outcome labels; 'surprise' = the surprise value head (@stepwise/prm, docs/prm.md §7): a logistic layer over the
   * round's policy's own token log-probs, fitted to the round's N = 1 outcome labels (final answers only; one
   * forward pass per tree instead of rollouts); 'outcome' = mean correctness of the walks through a node (N = 1); 'oracle' = the task's exact step
   * checker — an UPPER-BOUND ABLATION only, never a default; 'search' = the values the search computed
   * itself (MCTS: (Q + 1) / 2 with Q and visits kept for the Q-value pairs; pruned search: its Monte-Carlo
   * values of the kept steps) — required by, and only allowed with, the 'mcts' and 'pruned' samplers.
   * `prmSteps` also trains the value model of eval.search 'beam'.
   */
  score: { scorer: Scorer; rollouts: number; temperature: number; prmSteps: number };
  pairs: {
    /** SPPD sibling filter |ΔV| > threshold. */
    threshold: number;
    /** Cap of step pairs per problem (largest gaps first). */
    maxStepPairsPerProblem: number;
    /** Full-Step-DPO: top/bottom T solutions. */
    topBottomT: number;
    /** DPO baseline: correct ≻ incorrect pairs per problem. */
    outcomePerProblem: number;
    /** SVPO: minimum Q(a_w) − Q(a_l) between visited MCTS siblings (Q in [−1, 1]). */
    qMinGap: number;
    /** SVPO: at most this many pairs per MCTS node, largest Q gaps first. */
    qPairsPerNode: number;
  };
  /** Round 1 trains on the base model's trees; round k > 1 re-samples with round k−1's last checkpoint (SPPD stage 2). */
  rounds: RoundSpec[];
  eval: {
    /** N of MAJ@N. */
    samples: number;
    /**
     * MAJ@N, the sample accuracy and the beam search run on the first `sampledProblems` held-out problems
     * (0, or a number at least task.testProblems, = all); greedy always runs on all `task.testProblems`.
     * Sampling costs N solutions per problem and greedy one, so a large greedy split (narrow intervals on the
     * headline metric) stays affordable.
     */
    sampledProblems: number;
    temperature: number;
    maxDepth: number;
    /**
     * An extra search-based protocol for every model: 'beam' = step-level beam search SBS(beamWidth,
     * beamSamples) (methods.md §5.5) ranked by the learned PRM (trained for score.prmSteps steps on the round-1
     * trees' N = 1 outcome labels: SVPO's value head stands in); 'none' = greedy and MAJ@N only.
     */
    search: 'none' | 'beam';
    beamWidth: number;
    beamSamples: number;
  };
}

export type Sampler = 'tree' | 'mcts' | 'pruned';
export type Scorer = 'mc' | 'prm' | 'surprise' | 'outcome' | 'oracle' | 'search';
const SCORERS_OF: Record<Sampler, readonly Scorer[]> = { tree: ['mc', 'prm', 'surprise', 'outcome', 'oracle'], mcts: ['search'], pruned: ['search'] };
/** Pair data that only one sampler's output carries (Q values and visits; the max/min routes). */
const SAMPLER_OF: Partial<Record<PairData, Sampler>> = { 'q-value': 'mcts', 'max-min': 'pruned' };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function checkKeys(path: string, v: unknown, ref: Record<string, unknown>): void {
  if (!isObj(v)) throw new ConfigError(path, 'an object', v);
  for (const k of Object.keys(v)) if (!(k in ref)) throw new ConfigError(`${path}.${k}`, `a known field (${Object.keys(ref).join(', ')})`, k);
}
const int = (f: string, v: unknown, min: number, max = Infinity): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(f, `an integer in [${min}, ${max}]`, v);
  return v;
};
const num = (f: string, v: unknown, min: number, max = Infinity): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ConfigError(f, `a number in [${min}, ${max}]`, v);
  return v;
};

/** Deep-merges plain objects (arrays and scalars in `over` replace those in `base`). */
export function merge<T>(base: T, over: unknown): T {
  if (!isObj(base) || !isObj(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge((base as Record<string, unknown>)[k], v);
  return out as T;
}

/** Validates a full config (after recipe, preset and file were merged); returns it with trainer defaults filled. */
export function validateConfig(c: PipelineConfig): PipelineConfig {
  const ref = { recipe: 0, seed: 0, task: 0, base: 0, sample: 0, score: 0, pairs: 0, rounds: 0, eval: 0 };
  checkKeys('config', c, ref);
  if (typeof c.recipe !== 'string') throw new ConfigError('recipe', 'a recipe name', c.recipe);
  int('seed', c.seed, 0);
  checkKeys('task', c.task, { levels: 0, trainProblems: 0, testProblems: 0 });
  if (!Array.isArray(c.task.levels) || c.task.levels.length === 0) throw new ConfigError('task.levels', 'a non-empty list of levels 1..4', c.task.levels);
  c.task.levels.forEach((l, i) => int(`task.levels[${i}]`, l, 1, 4));
  int('task.trainProblems', c.task.trainProblems, 1);
  int('task.testProblems', c.task.testProblems, 1, 1000);
  checkKeys('base', c.base, { steps: 0, batchSize: 0, lr: 0, warmupSteps: 0, seed: 0, model: 0 });
  int('base.steps', c.base.steps, 1);
  int('base.batchSize', c.base.batchSize, 1);
  num('base.lr', c.base.lr, 1e-7, 1);
  int('base.warmupSteps', c.base.warmupSteps, 0, c.base.steps - 1);
  int('base.seed', c.base.seed, 0);
  checkKeys('base.model', c.base.model, { numLayers: 0, hiddenSize: 0, intermediateSize: 0, numHeads: 0 });
  int('base.model.numLayers', c.base.model.numLayers, 1, 64);
  int('base.model.hiddenSize', c.base.model.hiddenSize, 2, 4096);
  int('base.model.intermediateSize', c.base.model.intermediateSize, 1, 16384);
  int('base.model.numHeads', c.base.model.numHeads, 1, c.base.model.hiddenSize);
  const headDim = c.base.model.hiddenSize / c.base.model.numHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError('base.model.numHeads', `a divisor of base.model.hiddenSize (${c.base.model.hiddenSize}) leaving an even head width (RoPE)`, c.base.model.numHeads);
  }
  checkKeys('sample', c.sample, { sampler: 0, iterations: 0, children: 0, temperature: 0, maxDepth: 0, walkers: 0, maxStepTokens: 0, cPuct: 0, weakTemperature: 0, batchProblems: 0 });
  if (!['tree', 'mcts', 'pruned'].includes(c.sample.sampler)) throw new ConfigError('sample.sampler', "'tree' | 'mcts' | 'pruned'", c.sample.sampler);
  int('sample.iterations', c.sample.iterations, 1);
  int('sample.children', c.sample.children, 2);
  num('sample.temperature', c.sample.temperature, 0.01, 10);
  int('sample.maxDepth', c.sample.maxDepth, 1);
  int('sample.walkers', c.sample.walkers, 1);
  int('sample.maxStepTokens', c.sample.maxStepTokens, 1);
  num('sample.cPuct', c.sample.cPuct, 0, 100);
  num('sample.weakTemperature', c.sample.weakTemperature, 0.01, 10);
  int('sample.batchProblems', c.sample.batchProblems, 1, 256);
  checkKeys('score', c.score, { scorer: 0, rollouts: 0, temperature: 0, prmSteps: 0 });
  const scorers = SCORERS_OF[c.sample.sampler];
  if (!scorers.includes(c.score.scorer)) throw new ConfigError('score.scorer', `${scorers.map((x) => `'${x}'`).join(' | ')} (with sample.sampler '${c.sample.sampler}')`, c.score.scorer);
  int('score.prmSteps', c.score.prmSteps, 1);
  int('score.rollouts', c.score.rollouts, 1);
  num('score.temperature', c.score.temperature, 0.01, 10);
  checkKeys('pairs', c.pairs, { threshold: 0, maxStepPairsPerProblem: 0, topBottomT: 0, outcomePerProblem: 0, qMinGap: 0, qPairsPerNode: 0 });
  num('pairs.threshold', c.pairs.threshold, 0, 1);
  int('pairs.maxStepPairsPerProblem', c.pairs.maxStepPairsPerProblem, 1);
  int('pairs.topBottomT', c.pairs.topBottomT, 1);
  int('pairs.outcomePerProblem', c.pairs.outcomePerProblem, 1);
  num('pairs.qMinGap', c.pairs.qMinGap, 0, 2);
  int('pairs.qPairsPerNode', c.pairs.qPairsPerNode, 1);
  if (!Array.isArray(c.rounds) || c.rounds.length === 0) throw new ConfigError('rounds', 'a non-empty list of rounds', c.rounds);
  const names = new Set<string>();
  const rounds = c.rounds.map((r, ri) => {
    checkKeys(`rounds[${ri}]`, r, { problems: 0, train: 0 });
    if (r.problems !== undefined) int(`rounds[${ri}].problems`, r.problems, 1);
    if (!Array.isArray(r.train) || r.train.length === 0) throw new ConfigError(`rounds[${ri}].train`, 'a non-empty list of train stages', r.train);
    return {
      ...(r.problems !== undefined ? { problems: r.problems } : {}),
      train: r.train.map((s, si) => {
        const p = `rounds[${ri}].train[${si}]`;
        checkKeys(p, s, { name: 0, label: 0, data: 0, train: 0 });
        if (typeof s.name !== 'string' || !/^[A-Za-z0-9][\w-]*$/.test(s.name) || names.has(s.name)) throw new ConfigError(`${p}.name`, 'a unique name of letters, digits, "-", "_"', s.name);
        names.add(s.name);
        if (typeof s.label !== 'string' || s.label === '') throw new ConfigError(`${p}.label`, 'a non-empty string', s.label);
        if (!PAIR_DATA.includes(s.data)) throw new ConfigError(`${p}.data`, PAIR_DATA.join(' | '), s.data);
        // Q-value pairs need MCTS statistics and max/min pairs the pruned search's routes; the pruned search
        // writes only its routes, so no other pair rule has anything to read in its output.
        const needs = SAMPLER_OF[s.data];
        if (needs && needs !== c.sample.sampler) throw new ConfigError(`${p}.data`, `a pair rule the '${c.sample.sampler}' sampler feeds ('${s.data}' needs sample.sampler '${needs}')`, s.data);
        if (c.sample.sampler === 'pruned' && s.data !== 'max-min') throw new ConfigError(`${p}.data`, "'max-min' (the only pairs the 'pruned' sampler feeds)", s.data);
        return { ...s, train: resolveTrainerConfig(s.train ?? {}, `${p}.train`) };
      }),
    };
  });
  checkKeys('eval', c.eval, { samples: 0, sampledProblems: 0, temperature: 0, maxDepth: 0, search: 0, beamWidth: 0, beamSamples: 0 });
  int('eval.samples', c.eval.samples, 1);
  int('eval.sampledProblems', c.eval.sampledProblems, 0);
  num('eval.temperature', c.eval.temperature, 0.01, 10);
  int('eval.maxDepth', c.eval.maxDepth, 1);
  if (!['none', 'beam'].includes(c.eval.search)) throw new ConfigError('eval.search', "'none' | 'beam'", c.eval.search);
  int('eval.beamWidth', c.eval.beamWidth, 1);
  int('eval.beamSamples', c.eval.beamSamples, 1);
  return { ...c, rounds };
}
