/**
 * The internal shape the step-label converters meet in: one solution, its steps, and one boolean per step
 * (TRL stepwise supervision, Math-Shepherd, PRM800K's chosen path and the oracle checker all map to it).
 */
export interface StepLabelledSolution {
  problemId: string;
  /** What the policy/PRM is conditioned on (a question or a templated prompt). */
  prompt: string;
  steps: string[];
  /** labels[i]: step i is good (true) or bad (false). Same length as steps. */
  labels: boolean[];
  /** Source tag, e.g. "math-shepherd", "prm800k", "trl". */
  source: string;
}
