/**
 * Full-Step-DPO training records ({prompt, responses, rewards, rewards_list, gold_answer?}, one per problem)
 * ↔ FullStepDpoGroup, and the pairs its trainer forms from a record.
 *
 * A response is split into steps at every newline that starts a "Step k:" line, which is where the official
 * collator cuts (the token of "\nStep"). rewards_list[i] must have one reward per step of responses[i]
 * (checked; `strict: false` skips the check for files segmented differently).
 */
import type { SequencePair } from '@stepwise/core';
import { MEMORY_SOURCE, TaskArgumentError, type RecordSource } from '../errors.js';
import { fieldsOf } from '../json-input.js';

export interface FullStepDpoRecord {
  prompt: string;
  responses: string[];
  rewards: number[];
  rewards_list: number[][];
  gold_answer?: string;
}

export interface FullStepDpoGroup {
  problemId: string;
  prompt: string;
  /** Each response as its steps. */
  responses: string[][];
  /** Solution-level reward per response (the correctness label, 1/0, to reproduce the paper's pairs). */
  rewards: number[];
  /** Per-step PRM rewards per response. */
  stepRewards: number[][];
  goldAnswer?: string;
}

const STEP_START = /\n(?=Step \d+:)/;

export function splitFullStepDpoResponse(response: string): string[] {
  return response.split(STEP_START);
}

export function fromFullStepDpo(record: unknown, options: { problemId?: string; strict?: boolean } = {}, src: RecordSource = MEMORY_SOURCE): FullStepDpoGroup {
  const f = fieldsOf(record, src);
  const prompt = f.at('prompt').string();
  const responses = f.at('responses').stringArray();
  const rewards = f.at('rewards').numberArray();
  const rl = f.at('rewards_list');
  const stepRewards = rl.items().map((x) => x.numberArray());
  if (rewards.length !== responses.length) throw f.at('rewards').error(`has ${rewards.length} entries for ${responses.length} responses`);
  if (stepRewards.length !== responses.length) throw rl.error(`has ${stepRewards.length} entries for ${responses.length} responses`);
  const steps = responses.map(splitFullStepDpoResponse);
  if (options.strict ?? true) {
    steps.forEach((s, i) => {
      if (stepRewards[i].length !== s.length) throw rl.at(i).error(`has ${stepRewards[i].length} rewards for ${s.length} steps`);
    });
  }
  const group: FullStepDpoGroup = { problemId: options.problemId ?? '', prompt, responses: steps, rewards, stepRewards };
  if (f.has('gold_answer')) group.goldAnswer = f.at('gold_answer').string();
  return group;
}

export function toFullStepDpo(group: FullStepDpoGroup): FullStepDpoRecord {
  const n = group.responses.length;
  if (group.rewards.length !== n) throw new TaskArgumentError('group.rewards', `${n} entries`, group.rewards);
  if (group.stepRewards.length !== n) throw new TaskArgumentError('group.stepRewards', `${n} entries`, group.stepRewards);
  const rec: FullStepDpoRecord = {
    prompt: group.prompt,
    responses: group.responses.map((s) => s.join('\n')),
    rewards: [...group.rewards],
    rewards_list: group.stepRewards.map((r) => [...r]),
  };
  if (group.goldAnswer !== undefined) rec.gold_answer = group.goldAnswer;
  return rec;
}

/** The pairs the Full-Step-DPO trainer forms inside one record: every (i, j) with rewards[i] > rewards[j]. */
export function fullStepDpoPairs(group: FullStepDpoGroup): SequencePair[] {
  const pairs: SequencePair[] = [];
  group.rewards.forEach((ri, i) =>
    group.rewards.forEach((rj, j) => {
      if (ri > rj) {
        pairs.push({
          schema: 'stepwise.sequence-pair@1',
          problemId: group.problemId,
          prompt: group.prompt,
          chosenSteps: group.responses[i],
          rejectedSteps: group.responses[j],
          chosenStepRewards: group.stepRewards[i],
          rejectedStepRewards: group.stepRewards[j],
          rule: 'full-step-dpo',
        });
      }
    }),
  );
  return pairs;
}
