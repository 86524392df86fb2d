/**
 * The two interfaces every search is written against (architecture.md §4). A search never sees a concrete
 * model: the native engine, a scripted test policy, or an HTTP model all sit behind `Policy`.
 */
import type { Problem } from '@stepwise/core';

/** A partial solution: the problem and the steps taken so far. `handle` lets a backend reuse its KV cache. */
export interface PrefixState {
  problem: Problem;
  steps: readonly string[];
  /** Backend-private: e.g. the engine's cache id for this prefix (a node's cache is shared by its children). */
  handle?: unknown;
}

/** One sampled next step. */
export interface StepCandidate {
  text: string;
  tokenIds: number[];
  /** Per-token log-probs under the sampling policy (same length as tokenIds). */
  tokenLogprobs: number[];
  /** True when the step ends the solution (a final answer, EOS, or a length limit). */
  terminal: boolean;
  /** Backend-private cache handle for the state after this step. */
  handle?: unknown;
}

export interface SampleOptions {
  /** Sampling temperature; 0 = greedy. */
  temperature: number;
  /** Nucleus sampling mass (1 = off). */
  topP?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Tokens at most per step; a step that hits it is returned as is (terminal if the backend says so). */
  maxStepTokens?: number;
  /** Seed for this call; backends must be deterministic given it. */
  seed?: number;
}

export interface Policy {
  /** For each state, n sampled next steps (result[i] belongs to states[i]). */
  expand(states: readonly PrefixState[], n: number, opts: SampleOptions): Promise<StepCandidate[][]>;
  /** Called when a search no longer needs a state's cache (optional; lets backends free memory early). */
  release?(handles: readonly unknown[]): void;
}

/** One value per step prefix: value[k] is the value of the state after steps[0..k]. */
export interface StepScorer {
  readonly name: string;
  score(problem: Problem, steps: readonly string[]): Promise<number[]>;
}

/** Extracts a final answer from a solution and grades it against the problem's gold answer. */
export interface Judge {
  judge(problem: Problem, steps: readonly string[]): { answer: string | null; correct: boolean };
  /** Are two extracted answers the same (used to cluster answers for voting)? */
  same(a: string, b: string): boolean;
  /**
   * Does the last step STATE a final answer (so the solution is finished)? `judge` reads any complete
   * solution, falling back to its last number; that fallback must not make an unfinished prefix such as
   * "Step 1: 18 - 5 = 13" look finished, or rollouts from it would stop before generating anything.
   */
  finished(problem: Problem, steps: readonly string[]): boolean;
}

/** Progress reported by long searches (the CLI shows it; tests count it). */
export interface SearchProgress {
  problemsDone: number;
  tokensGenerated: number;
  policyCalls: number;
}

export class SearchConfigError extends Error {
  override name = 'SearchConfigError';
}

export function requireInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new SearchConfigError(`${name}: expected an integer >= ${min}, got ${value}`);
}

export function requireNumber(name: string, value: number, min = -Infinity, max = Infinity): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new SearchConfigError(`${name}: expected a finite number in [${min}, ${max}], got ${value}`);
  }
}

/** Mean token log-prob of a candidate (the SPPD selection score and, exponentiated, the MCTS prior). */
export function meanLogprob(c: Pick<StepCandidate, 'tokenLogprobs'>): number {
  const n = c.tokenLogprobs.length;
  if (n === 0) return 0;
  let s = 0;
  for (const lp of c.tokenLogprobs) s += lp;
  return s / n;
}
