/**
 * The other methods as recipes over the same tree sampler and scorer, each with its paper's pair rule and
 * loss (architecture.md §4). Where a method's own sampler is not used here, the note says what stands in.
 */
import { DPO_STAGE, SFT_STAGE, shared, type Recipe } from './common.js';

/** Full-Step-DPO (§4): top/bottom-T solutions by mean step value, token-softmax weighted DPO (β 0.05, γ 0.5). */
export const fullStepDpo: Recipe = {
  name: 'full-step-dpo',
  summary: 'Full-Step-DPO: top/bottom-T solutions, step-reward-weighted DPO surrogate',
  config: (p) => ({
    recipe: 'full-step-dpo',
    ...shared(p),
    rounds: [{ train: [{ name: 'fsdpo', label: '+Full-Step-DPO', data: 'top-bottom', train: { ...DPO_STAGE, objective: 'full-step-dpo', beta: 0.05, gamma: 0.5 } }] }],
  }),
};

/**
 * SVPO (§5): Q-value sibling pairs → step-DPO (β 0.4). Stand-ins: Q = 2·MC − 1 on the sampled tree instead of
 * MCTS backups, and no value-head term (the engine has no value head yet), so this is SVPO's policy half.
 */
export const svpo: Recipe = {
  name: 'svpo',
  summary: 'SVPO (policy half): Q-value sibling pairs, step-DPO',
  config: (p) => ({
    recipe: 'svpo',
    ...shared(p),
    rounds: [{ train: [{ name: 'svpo', label: '+SVPO', data: 'q-value', train: { ...DPO_STAGE, objective: 'step-dpo', beta: 0.4 } }] }],
  }),
};

/** SPHERE (§6): max/min routes (always the best / worst valued child) → DPO on (correct route ≻ wrong route). */
export const sphere: Recipe = {
  name: 'sphere',
  summary: 'SPHERE: max/min valued routes through the tree, DPO',
  config: (p) => ({
    recipe: 'sphere',
    ...shared(p),
    rounds: [{ train: [{ name: 'sphere', label: '+SPHERE', data: 'max-min', train: { ...DPO_STAGE } }] }],
  }),
};

/** Step-DPO (§2): first wrong step (value ≤ 0.5) vs a right sibling leading to a correct answer, β 0.4. */
export const stepDpo: Recipe = {
  name: 'step-dpo',
  summary: 'Step-DPO: first-error step pairs, step-level DPO (γ = 0)',
  config: (p) => ({
    recipe: 'step-dpo',
    ...shared(p),
    rounds: [{ train: [{ name: 'step-dpo', label: '+Step-DPO', data: 'first-error', train: { ...DPO_STAGE, objective: 'step-dpo', beta: 0.4 } }] }],
  }),
};

/** DPO on outcomes: one correct ≻ incorrect sampled solution per problem, after SFT on the correct one. */
export const dpo: Recipe = {
  name: 'dpo',
  summary: 'DPO baseline: correct ≻ incorrect solutions',
  config: (p) => ({
    recipe: 'dpo',
    ...shared(p),
    rounds: [{ train: [{ name: 'sft', label: '+SFT', data: 'outcome', train: { ...SFT_STAGE } }, { name: 'dpo', label: '+DPO', data: 'outcome', train: { ...DPO_STAGE } }] }],
  }),
};
