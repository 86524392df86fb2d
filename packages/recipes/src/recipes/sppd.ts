/**
 * SPPD (methods.md §3): tree self-sampling with the base model (K walks, C = 2 children) → step values from a
 * scorer that sees only final answers (Monte-Carlo rollouts; the learned PRM where merged) → per problem the
 * sentence-level pair (τ⁺ = correct solution with the strongest weakest step, τ⁻ = incorrect with the weakest)
 * and the sibling step pairs with |ΔV| > 0.5 → SFT on τ⁺ → DPO on (τ⁺, τ⁻) → step-DPO with the dynamic margin
 * γ·(V_w − V_l) on the siblings → stage 2: re-sample trees with the SPPD model and train SPPD again.
 */
import type { PipelineConfig } from '../config.js';
import { DPO_STAGE, SFT_STAGE, shared, type Preset, type Recipe } from './common.js';

/**
 * SFT on τ⁺ at lr 1e-4 (3 epochs). Measured on the 1800-step base (docs/experiments.md, "What moves greedy
 * accuracy"): at thousands of τ⁺ 1e-4 gave the largest gains (+4.6 greedy at 4000 problems); 3e-5, the shared
 * SFT_STAGE, was chosen for the 95 τ⁺ of the old 128-problem preset, where 1e-4 lost 1.4 points.
 */
export const SPPD_SFT_STAGE = { ...SFT_STAGE, lr: 1e-4 } as const;
/**
 * DPO on (τ⁺, τ⁻) and the step stages: one epoch, with the chosen side's NLL at weight 1 (RPO-style). Measured at
 * 4000 problems (docs/experiments.md): without the NLL term the SPPD stage took greedy accuracy from 88.4 to 81.5
 * (every sibling gap is ΔV = 1 with 2 rollouts, so γ·ΔV asks for a 10-nat log-ratio gap at β = 0.1); with it, 88.6.
 * One epoch instead of three: the stages keep what SFT gained at a third of the cost (3000 problems: +SPPD 89.8
 * against +DPO 89.6 and +SFT 89.2).
 */
export const SPPD_DPO_STAGE = { ...DPO_STAGE, epochs: 1, chosenNll: 1 } as const;
/** Step-DPO with the value margin: β = 0.1 (paper), γ = 1 (the middle of the paper's grid {0.1 … 5}). */
export const SPPD_STAGE = { ...SPPD_DPO_STAGE, objective: 'sppd', beta: 0.1, gamma: 1.0, margin: 'dynamic' } as const;

export function sppdConfig(preset: Preset, margin: 'dynamic' | 'fixed' | 'none' = 'dynamic', name = 'sppd'): PipelineConfig {
  const step = { ...SPPD_STAGE, margin };
  return {
    recipe: name,
    ...shared(preset),
    rounds: [
      {
        train: [
          { name: 'sft', label: '+SFT-PRM', data: 'sentence', train: { ...SPPD_SFT_STAGE } },
          { name: 'dpo', label: '+DPO-PRM', data: 'sentence', train: { ...SPPD_DPO_STAGE } },
          { name: 'sppd', label: '+SPPD', data: 'siblings', train: step },
        ],
      },
      // Stage 2 (§3.3 step 4): the SPPD model samples new trees; step-level training only. 1000 problems here
      // against round 1's 3000: the round only refreshes the step pairs (the τ⁺ that need many problems feed
      // round 1's SFT), and the main job's 15 minutes do not hold a second 3000.
      { problems: 1000, train: [{ name: 'sppd-2', label: '+SPPD stage 2', data: 'siblings', train: step }] },
    ],
  };
}

export const sppd: Recipe = { name: 'sppd', summary: 'SPPD: SFT → DPO on τ⁺/τ⁻ → step-DPO with γ·ΔV margin on sibling pairs → stage 2', config: (p) => sppdConfig(p) };

/** Margin ablation (methods.md §9.2): γ = 0 (plain step-DPO) and one fixed margin for every pair. */
export const sppdGamma0: Recipe = { name: 'sppd-gamma0', summary: 'SPPD margin ablation: γ = 0', config: (p) => sppdConfig(p, 'none', 'sppd-gamma0') };
export const sppdFixed: Recipe = { name: 'sppd-fixed', summary: 'SPPD margin ablation: one fixed margin (the mean of γ·ΔV)', config: (p) => sppdConfig(p, 'fixed', 'sppd-fixed') };

/** Upper bound, labelled as such: the task's exact step checker instead of a final-answer-only scorer. */
export const sppdOracle: Recipe = {
  name: 'sppd-oracle',
  summary: 'SPPD with ORACLE step values (upper-bound ablation, not a method)',
  config: (p) => ({ ...sppdConfig(p, 'dynamic', 'sppd-oracle'), score: { ...sppdConfig(p).score, scorer: 'oracle' } }),
};

/** SPPD with the learned PRM (self-supervised on the round's own N = 1 outcome labels) as V*. */
export const sppdPrm: Recipe = {
  name: 'sppd-prm',
  summary: 'SPPD with step values from the learned PRM (@stepwise/prm)',
  config: (p) => ({ ...sppdConfig(p, 'dynamic', 'sppd-prm'), score: { ...sppdConfig(p).score, scorer: 'prm' } }),
};
