/**
 * A deterministic policy for exact tests: a table from the prefix (steps joined with "\n") to the candidate
 * next steps with their log-probs. Each call returns the candidates in order, cycling when n is larger, so
 * tree shapes, visit counts and Q values are predictable. Terminal steps are those the script marks.
 */
import type { PrefixState, Policy, SampleOptions, StepCandidate } from './policy.js';

export interface ScriptedStep {
  text: string;
  /** Per-token log-probs; the token count is their length. */
  logprobs: number[];
  terminal?: boolean;
}

export class ScriptedPolicy implements Policy {
  calls = 0;
  statesExpanded = 0;
  private cursor = new Map<string, number>();

  constructor(private readonly script: (steps: readonly string[]) => ScriptedStep[]) {}

  static fromTable(table: Record<string, ScriptedStep[]>): ScriptedPolicy {
    return new ScriptedPolicy((steps) => {
      const key = steps.join('\n');
      const row = table[key];
      if (!row) throw new Error(`ScriptedPolicy: no candidates scripted for prefix ${JSON.stringify(key)}`);
      return row;
    });
  }

  async expand(states: readonly PrefixState[], n: number, _opts: SampleOptions): Promise<StepCandidate[][]> {
    this.calls++;
    this.statesExpanded += states.length;
    return states.map((s) => {
      const row = this.script(s.steps);
      if (row.length === 0) throw new Error('ScriptedPolicy: empty candidate list');
      const key = s.steps.join('\n');
      let at = this.cursor.get(key) ?? 0;
      const out: StepCandidate[] = [];
      for (let i = 0; i < n; i++) {
        const step = row[at % row.length];
        at++;
        out.push({
          text: step.text,
          tokenIds: step.logprobs.map((_, j) => j),
          tokenLogprobs: step.logprobs,
          terminal: step.terminal ?? false,
        });
      }
      this.cursor.set(key, at);
      return out;
    });
  }
}
