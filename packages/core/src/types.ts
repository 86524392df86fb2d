/**
 * The shared vocabulary of stepwise: problems, steps, trees, scored trees and pairs.
 * Every record written to a run directory carries `schema` (name@version) so readers can reject or migrate
 * records from other versions; JSON Schemas for each live in ./schemas.ts.
 */

/** A task instance: the question, its gold answer, and where it came from. */
export interface Problem {
  /** Optional on input (task loaders may omit it); written as 'stepwise.problem@1'. */
  schema?: 'stepwise.problem@1';
  id: string;
  question: string;
  /** Gold final answer as a string (graded with the answer grader, never compared raw). */
  answer: string;
  /** Source tag, e.g. "embedded/arith-v1", "gsm8k/test", "math500". */
  source: string;
  /** Optional reference solution steps (the embedded task and MATH have them). */
  solutionSteps?: string[];
  /** Free-form metadata (difficulty, subject, level, …). */
  meta?: Record<string, unknown>;
}

/** One reasoning step: its text and, when produced by a policy, its tokens and log-probs. */
export interface Step {
  text: string;
  tokenIds?: number[];
  /** Per-token log-probs under the sampling policy (same length as tokenIds). */
  tokenLogprobs?: number[];
  /** True when this step ends the solution (contains the final answer or EOS). */
  terminal?: boolean;
}

/**
 * A reasoning tree stored as flat node arrays (one entry per node, index = node id). Node 0 is the root
 * (the prompt; its step is empty). parent[0] = -1. A path from the root to a terminal node is a solution.
 */
export interface Tree {
  schema: 'stepwise.tree@1';
  problemId: string;
  parent: number[];
  /** Step text of each node (root: ""). */
  text: string[];
  /** Depth of each node (root 0). */
  depth: number[];
  terminal: boolean[];
  /** Sum of token log-probs of the node's step under the sampling policy (root 0). */
  logprobSum: number[];
  /** Token count of the node's step (root 0). */
  tokenCount: number[];
  /** Final answer extracted at terminal nodes (null elsewhere or when none was found). */
  answer: (string | null)[];
  /** Correctness of terminal nodes against the gold answer (null elsewhere). */
  correct: (boolean | null)[];
  /** Sampler-specific per-node statistics (MCTS visits and Q, selection scores, …). */
  stats?: Record<string, number[]>;
}

/** A tree with one value per node (the value of the state ending at that node's step), from a scorer. */
export interface ScoredTree extends Omit<Tree, 'schema'> {
  schema: 'stepwise.scored-tree@1';
  /** value[i] in [0,1] (PRM / MC / oracle) or [-1,1] (MCTS Q); NaN is never stored: null = not scored. */
  value: (number | null)[];
  /** Which scorer produced `value`, e.g. "oracle", "mc:n=8:hard", "prm:value-head". */
  scorer: string;
}

/** A step-level preference pair: two sibling continuations of a shared prefix. */
export interface StepPair {
  schema: 'stepwise.step-pair@1';
  problemId: string;
  prompt: string;
  /** Shared earlier steps (may be empty: the pair is at the first step). */
  prefixSteps: string[];
  chosen: string;
  rejected: string;
  /** Values of the states ending with chosen / rejected (SPPD's V*(s^w), V*(s^l)); null when unknown. */
  chosenValue: number | null;
  rejectedValue: number | null;
  /** Which selector made it, e.g. "sppd-siblings", "svpo-q", "step-dpo-first-error". */
  rule: string;
}

/** A solution-level preference pair (DPO, SPPD sentence-level, SPHERE, Full-Step-DPO). */
export interface SequencePair {
  schema: 'stepwise.sequence-pair@1';
  problemId: string;
  prompt: string;
  chosenSteps: string[];
  rejectedSteps: string[];
  /** Per-step rewards (Full-Step-DPO's rewards_list); empty when the method uses none. */
  chosenStepRewards: number[];
  rejectedStepRewards: number[];
  rule: string;
}

export type PreferencePair = StepPair | SequencePair;
