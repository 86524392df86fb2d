/**
 * Settings every recipe shares, scaled to the embedded model (0.8M-parameter char-level Llama on arith-v1,
 * 2 CPU cores): the task, the base model, tree sampling, Monte-Carlo scoring and evaluation. A recipe file
 * spreads these and writes its own sampler/pairs/loss choices next to them, so each recipe reads top to bottom.
 */
import { BASE_MODEL_CONFIG } from '@stepwise/backends';
import type { BaseModelShape, PipelineConfig } from '../config.js';

/** backends' default base model (816,640 parameters: 4 layers, width 128, 4 heads of 32, SwiGLU 352). */
const FULL_BASE_MODEL: BaseModelShape = {
  numLayers: BASE_MODEL_CONFIG.numLayers,
  hiddenSize: BASE_MODEL_CONFIG.hiddenSize,
  intermediateSize: BASE_MODEL_CONFIG.intermediateSize,
  numHeads: BASE_MODEL_CONFIG.numHeads,
};

export type Preset = 'quick' | 'full';

export interface Recipe {
  name: string;
  /** One line for `stepwise pipeline --help`. */
  summary: string;
  /** The complete config of a preset (every field written; a --config file overrides fields). */
  config(preset: Preset): PipelineConfig;
}

/** Shared fields of the 'full' preset (the main job). */
export const SHARED_FULL: Omit<PipelineConfig, 'recipe' | 'rounds'> = {
  seed: 0,
  // Level 1 (2 operations): a base model trained for a few CPU-minutes solves most problems greedily but
  // samples many wrong paths (its corpus has 15% step errors), so trees hold pairs; level 2 needs a longer
  // base training than the 15-minute budget allows. 3000 problems per round: greedy accuracy moves with the
  // number of distinct problems whose τ⁺ SFT sees (128 gave no gain, 2000 +2, 4000 +5; docs/experiments.md).
  // 1000 held-out problems for greedy (±2 points at 95% on a paired difference), MAJ@N on the first 300.
  task: { levels: [1], trainProblems: 3000, testProblems: 1000 },
  // backends' architecture (0.8M parameters) on the level's corpus. Measured (docs/backends.md §4): 900 steps
  // reach 21% greedy on level 1, 1200 steps 36%, 1500 steps 65%, the full 1800-step schedule 84.7% (80.5% since
  // fe41136 split the GEMMs over the pool: the same seed with other last bits; docs/experiments.md).
  base: { steps: 1800, batchSize: 16, lr: 3e-3, warmupSteps: 40, seed: 0, model: FULL_BASE_MODEL },
  // SPPD §6.1 uses K = 64, C = 2; K = 8 keeps ~14 nodes per tree at this scale (enough for τ⁺, τ⁻ and sibling
  // pairs; many problems matter more than big trees). Temperature 0.8 (the paper does not state one): at 1.0
  // the weak base finds too few correct solutions to form τ⁺.
  // cPuct and weakTemperature are read only by the MCTS (svpo) and pruned (sphere) samplers.
  // batchProblems: 64 problems' searches share one policy, so the early rounds of a tree (2, 4, 8 rows) decode
  // in batches of hundreds of rows.
  sample: { sampler: 'tree', iterations: 8, children: 2, temperature: 0.8, maxDepth: 8, walkers: 16, maxStepTokens: 48, cPuct: 1.5, weakTemperature: 1.2, batchProblems: 64 },
  // Math-Shepherd soft labels from 2 rollouts per node: values in {0, .5, 1}, so SPPD's |ΔV| > 0.5 keeps the
  // siblings whose rollouts all succeed against those whose rollouts all fail.
  score: { scorer: 'mc', rollouts: 2, temperature: 0.8, prmSteps: 150 },
  // qMinGap 1.0 on SVPO's Q scale [−1, 1] is SPPD's |ΔV| > 0.5 on [0, 1].
  pairs: { threshold: 0.5, maxStepPairsPerProblem: 4, topBottomT: 2, outcomePerProblem: 1, qMinGap: 1.0, qPairsPerNode: 1 },
  eval: { samples: 8, sampledProblems: 300, temperature: 0.8, maxDepth: 8, search: 'none', beamWidth: 3, beamSamples: 5 },
};

/**
 * The 'quick' preset (the e2e test, ≤ 5 minutes on 2 cores): the main job's data scale on a base model of half
 * the width and half the depth (2 layers, width 64, 2 heads of 32, SwiGLU 176: 107,008 parameters against
 * 816,640), whose training step is 4–5× cheaper. Measured (docs/experiments.md, "The quick preset"; before
 * fe41136): 1800 steps reach 54% greedy, 2000 steps 80% (80 s), 2400 steps 90%, 3000 steps 99% (no errors left
 * for the methods to fix). Since fe41136 the 2000-step base gives 72.8% in 62 s. The full model does worse on this budget (800 steps: 38% in 150 s), and so does width 64 with 4 layers
 * (1800 steps: 43%). MAJ@4 runs on every held-out problem: sampling is cheap on this model.
 */
export const SHARED_QUICK: Omit<PipelineConfig, 'recipe' | 'rounds'> = {
  ...SHARED_FULL,
  base: { steps: 2000, batchSize: 16, lr: 3e-3, warmupSteps: 40, seed: 0, model: { numLayers: 2, hiddenSize: 64, intermediateSize: 176, numHeads: 2 } },
  sample: { ...SHARED_FULL.sample, walkers: 8 },
  score: { ...SHARED_FULL.score, prmSteps: 60 },
  eval: { ...SHARED_FULL.eval, samples: 4, sampledProblems: 0 },
};

export const shared = (preset: Preset) => structuredClone(preset === 'full' ? SHARED_FULL : SHARED_QUICK);

/**
 * SFT on τ⁺ (methods.md §3.2 uses Adam, lr 5e-6, cosine for 7B). Measured on the 1800-step base
 * (docs/experiments.md, "Learning rates"): lr 1e-3 took greedy accuracy from 84.7% to 54%, 1e-4 to 83.3%,
 * 3e-5 to 84.3% — a base that ended its schedule at lr 1e-4 is knocked off its minimum by larger steps.
 */
export const SFT_STAGE = { objective: 'sft', optimizer: 'adamw', lr: 3e-5, schedule: 'cosine', warmupRatio: 0.1, epochs: 3, batchSize: 16, gradAccum: 1, maxGradNorm: 1 } as const;
/**
 * Sentence-level DPO and step-DPO: β = 0.1 as in SPPD. Learning rate measured on the 1800-step base
 * (docs/experiments.md, "Learning rates"): AdamW at 2e-4 took greedy accuracy from 84.7% to 34%, 2e-5 to 80.7%
 * (significantly worse), 5e-6 to 83.7% (no significant change); so 5e-6, the paper's order of magnitude.
 */
export const DPO_STAGE = { objective: 'dpo', beta: 0.1, optimizer: 'adamw', lr: 5e-6, schedule: 'cosine', warmupRatio: 0.1, epochs: 3, batchSize: 16, gradAccum: 1, maxGradNorm: 1 } as const;
