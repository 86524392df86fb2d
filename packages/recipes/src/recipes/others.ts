/**
 * The other methods as recipes: Full-Step-DPO, Step-DPO and DPO over the shared tree sampler and scorer,
 * SVPO over MCTS and SPHERE over the max/min pruned search, each with its paper's pair rule and loss
 * (architecture.md §4). Where part of a method is not available here, the note says what stands in.
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
 * SVPO (§5): AlphaMath MCTS on every training problem (PUCT c = 1.5, B2 = 5 children per expansion, prior =
 * geometric-mean token probability, terminal ±1 against the gold answer, backed-up Q at every node) → for each
 * node, visited children whose Q differ by more than pairs.qMinGap (at most pairs.qPairsPerNode per node) →
 * step-DPO (β 0.4). The engine has no value head, so MCTS leaves are valued by one sampled rollout (±1 by its
 * final answer) and training has no value-loss term: this is SVPO's policy half. Evaluated also with step-level
 * beam search (eval.search 'beam'), the learned PRM standing in for the value head.
 */
export const svpo: Recipe = {
  name: 'svpo',
  summary: 'SVPO (policy half): MCTS Q-value sibling pairs, step-DPO; also evaluated with step beam search',
  config: (p) => {
    const s = shared(p);
    return {
      recipe: 'svpo',
      ...s,
      // 40 iterations as in SVPO for the full preset; 16 at test scale (one expansion + one rollout each).
      sample: { ...s.sample, sampler: 'mcts', iterations: p === 'full' ? 40 : 16, children: 5 },
      score: { ...s.score, scorer: 'search' },
      eval: { ...s.eval, search: 'beam' },
      rounds: [{ train: [{ name: 'svpo', label: '+SVPO', data: 'q-value', train: { ...DPO_STAGE, objective: 'step-dpo', beta: 0.4 } }] }],
    };
  },
};

/**
 * SPHERE (§6): max/min pruned search per training problem (E = 5 candidates per depth at temperature 0.8, each
 * valued by Monte-Carlo rollouts that see only final answers; Sol_max follows the best, Sol_min the worst) and
 * its routes: (correct, wrong) → pair; (wrong, wrong) → a self-correction re-search whose correct solution is
 * preferred to both; (correct, correct) → the "smaller policy" searches the min branch with 2E candidates for
 * a wrong solution. The embedded task has no smaller model of the same family, and the base model is the
 * earliest checkpoint there is, so the same model at a higher temperature (sample.weakTemperature 1.2) plays
 * it: a flatter distribution of the same policy is weaker but keeps its style, which is what the stage needs
 * (plausible but wrong solutions). → DPO on whole solutions.
 */
export const sphere: Recipe = {
  name: 'sphere',
  summary: 'SPHERE: max/min pruned search with self-correction and weak-policy routes, DPO',
  config: (p) => {
    const s = shared(p);
    return {
      recipe: 'sphere',
      ...s,
      sample: { ...s.sample, sampler: 'pruned', children: 5 },
      score: { ...s.score, scorer: 'search' },
      rounds: [{ train: [{ name: 'sphere', label: '+SPHERE', data: 'max-min', train: { ...DPO_STAGE } }] }],
    };
  },
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
