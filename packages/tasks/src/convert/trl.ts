/**
 * TRL dataset formats ↔ stepwise records.
 *
 * Preference (DPOTrainer): {prompt, chosen, rejected}. A StepPair becomes prompt = pair.prompt + every prefix
 * step followed by the separator, chosen/rejected = the single steps; a SequencePair becomes prompt =
 * pair.prompt and chosen/rejected = its steps joined by the separator. With `extras`, the record also carries
 * stepwise fields (problem_id, rule, prefix/steps, values/rewards) so that it converts back exactly; without
 * them the way back cannot know the prefix boundary or the ids (documented as lossy in docs/tasks.md).
 *
 * Stepwise supervision (PRMTrainer): {prompt, completions, labels} ↔ StepLabelledSolution.
 */
import type { SequencePair, StepPair } from '@stepwise/core';
import { MEMORY_SOURCE, TaskArgumentError, type RecordSource } from '../errors.js';
import { fieldsOf, type Fields } from '../json-input.js';
import type { StepLabelledSolution } from './types.js';

export interface TrlPreferenceRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  [extra: string]: unknown;
}

export interface TrlOptions {
  /** Separator between steps (default "\n", the arith-v1 and Step-DPO convention). */
  separator?: string;
  /** Add the stepwise_* fields that make the conversion reversible (default true). */
  extras?: boolean;
}

export function toTrlPreference(pair: StepPair | SequencePair, options: TrlOptions = {}): TrlPreferenceRecord {
  const sep = options.separator ?? '\n';
  const extras = options.extras ?? true;
  if (pair?.schema === 'stepwise.step-pair@1') {
    const rec: TrlPreferenceRecord = {
      prompt: pair.prompt + pair.prefixSteps.map((s) => s + sep).join(''),
      chosen: pair.chosen,
      rejected: pair.rejected,
    };
    if (extras) {
      Object.assign(rec, {
        stepwise_schema: pair.schema,
        problem_id: pair.problemId,
        rule: pair.rule,
        question_prompt: pair.prompt,
        prefix_steps: pair.prefixSteps,
        chosen_value: pair.chosenValue,
        rejected_value: pair.rejectedValue,
      });
    }
    return rec;
  }
  if (pair?.schema === 'stepwise.sequence-pair@1') {
    const rec: TrlPreferenceRecord = { prompt: pair.prompt, chosen: pair.chosenSteps.join(sep), rejected: pair.rejectedSteps.join(sep) };
    if (extras) {
      Object.assign(rec, {
        stepwise_schema: pair.schema,
        problem_id: pair.problemId,
        rule: pair.rule,
        chosen_steps: pair.chosenSteps,
        rejected_steps: pair.rejectedSteps,
        chosen_step_rewards: pair.chosenStepRewards,
        rejected_step_rewards: pair.rejectedStepRewards,
      });
    }
    return rec;
  }
  throw new TaskArgumentError('pair.schema', '"stepwise.step-pair@1" or "stepwise.sequence-pair@1"', (pair as { schema?: unknown })?.schema);
}

export interface FromTrlOptions {
  separator?: string;
  /** For records without stepwise extras: read them as a step pair with an empty prefix, or as a sequence pair. */
  as?: 'step' | 'sequence';
  problemId?: string;
  rule?: string;
}

const nullableNumber = (f: Fields): number | null => (f.isNull() ? null : f.number());

export function fromTrlPreference(record: unknown, options: FromTrlOptions = {}, src: RecordSource = MEMORY_SOURCE): StepPair | SequencePair {
  const sep = options.separator ?? '\n';
  const f = fieldsOf(record, src);
  const prompt = f.at('prompt').string();
  const chosen = f.at('chosen').string();
  const rejected = f.at('rejected').string();
  const schema = f.has('stepwise_schema') ? f.at('stepwise_schema').string() : null;
  if (schema === 'stepwise.step-pair@1') {
    const questionPrompt = f.at('question_prompt').string();
    const prefixSteps = f.at('prefix_steps').stringArray();
    if (questionPrompt + prefixSteps.map((s) => s + sep).join('') !== prompt) {
      throw f.at('prompt').error('does not equal question_prompt + prefix_steps (edited after export?)');
    }
    return {
      schema,
      problemId: f.at('problem_id').string(),
      prompt: questionPrompt,
      prefixSteps,
      chosen,
      rejected,
      chosenValue: nullableNumber(f.at('chosen_value')),
      rejectedValue: nullableNumber(f.at('rejected_value')),
      rule: f.at('rule').string(),
    };
  }
  if (schema === 'stepwise.sequence-pair@1') {
    const chosenSteps = f.at('chosen_steps').stringArray();
    const rejectedSteps = f.at('rejected_steps').stringArray();
    if (chosenSteps.join(sep) !== chosen) throw f.at('chosen').error('does not equal chosen_steps joined');
    if (rejectedSteps.join(sep) !== rejected) throw f.at('rejected').error('does not equal rejected_steps joined');
    return {
      schema,
      problemId: f.at('problem_id').string(),
      prompt,
      chosenSteps,
      rejectedSteps,
      chosenStepRewards: f.at('chosen_step_rewards').numberArray(),
      rejectedStepRewards: f.at('rejected_step_rewards').numberArray(),
      rule: f.at('rule').string(),
    };
  }
  if (schema !== null) throw f.at('stepwise_schema').error(`unknown schema "${schema}"`);
  const problemId = options.problemId ?? '';
  const rule = options.rule ?? 'trl';
  if ((options.as ?? 'sequence') === 'step') {
    return { schema: 'stepwise.step-pair@1', problemId, prompt, prefixSteps: [], chosen, rejected, chosenValue: null, rejectedValue: null, rule };
  }
  return {
    schema: 'stepwise.sequence-pair@1',
    problemId,
    prompt,
    chosenSteps: chosen.split(sep),
    rejectedSteps: rejected.split(sep),
    chosenStepRewards: [],
    rejectedStepRewards: [],
    rule,
  };
}

export interface TrlStepwiseRecord {
  prompt: string;
  completions: string[];
  labels: boolean[];
}

export function toTrlStepwise(solution: StepLabelledSolution): TrlStepwiseRecord {
  if (solution.steps.length !== solution.labels.length) {
    throw new TaskArgumentError('solution.labels', `one label per step (${solution.steps.length})`, solution.labels);
  }
  return { prompt: solution.prompt, completions: [...solution.steps], labels: [...solution.labels] };
}

export function fromTrlStepwise(record: unknown, problemId = '', src: RecordSource = MEMORY_SOURCE): StepLabelledSolution {
  const f = fieldsOf(record, src);
  const prompt = f.at('prompt').string();
  const steps = f.at('completions').stringArray();
  const labels = f.at('labels').items().map((x) => x.boolean());
  if (labels.length !== steps.length) throw f.at('labels').error(`has ${labels.length} labels for ${steps.length} completions`);
  return { problemId, prompt, steps, labels, source: 'trl' };
}
