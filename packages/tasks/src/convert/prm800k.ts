/**
 * PRM800K records (openai/prm800k phase1/phase2 JSONL) ↔ typed records, step labels and step pairs.
 *
 * A record is one labelling session: for each step the labeller saw 1..7 candidate completions, rated each
 * -1 / 0 / +1 (null = not rated), and either chose one to continue with (chosen_completion), wrote their own
 * (human_completion), or stopped (finish_reason found_error / give_up). parsePrm800k validates every field and
 * keeps all of them, so serializePrm800k(parsePrm800k(x)) deep-equals x.
 */
import type { StepPair } from '@stepwise/core';
import { MEMORY_SOURCE, TaskArgumentError, type RecordSource } from '../errors.js';
import { fieldsOf, readConcatenatedJson, type Fields } from '../json-input.js';
import type { StepLabelledSolution } from './types.js';

export type Prm800kRating = -1 | 0 | 1 | null;

export interface Prm800kCompletion {
  text: string;
  rating: Prm800kRating;
  flagged: boolean | null;
  /** Present on human completions ("human"). */
  source?: string;
}

export interface Prm800kStep {
  completions: Prm800kCompletion[] | null;
  human_completion: Prm800kCompletion | null;
  chosen_completion: number | null;
}

export interface Prm800kQuestion {
  problem: string;
  ground_truth_answer: string | null;
  ground_truth_solution?: string | null;
  pre_generated_steps?: string[];
  pre_generated_answer?: string;
  pre_generated_verifier_score?: number;
}

export interface Prm800kRecord {
  labeler: string;
  timestamp: string;
  generation: number | null;
  is_quality_control_question: boolean;
  is_initial_screening_question: boolean;
  question: Prm800kQuestion;
  label: { steps: Prm800kStep[]; total_time: number; finish_reason: string };
}

const FINISH_REASONS = ['solution', 'found_error', 'give_up', 'bad_problem'];

function completion(f: Fields): Prm800kCompletion {
  const r = f.at('rating');
  let rating: Prm800kRating = null;
  if (!r.isNull()) {
    const v = r.number();
    if (v !== -1 && v !== 0 && v !== 1) throw r.error(`expected -1, 0, 1 or null, got ${v}`);
    rating = v;
  }
  const fl = f.at('flagged');
  const c: Prm800kCompletion = { text: f.at('text').string(), rating, flagged: fl.isNull() ? null : fl.boolean() };
  if (f.has('source')) c.source = f.at('source').string();
  return c;
}

function nullableString(f: Fields): string | null {
  return f.isNull() ? null : f.string();
}

export function parsePrm800k(record: unknown, src: RecordSource = MEMORY_SOURCE): Prm800kRecord {
  const f = fieldsOf(record, src);
  const gen = f.at('generation');
  const q = f.at('question');
  const question: Prm800kQuestion = { problem: q.at('problem').string(), ground_truth_answer: nullableString(q.at('ground_truth_answer')) };
  if (q.has('ground_truth_solution')) question.ground_truth_solution = nullableString(q.at('ground_truth_solution'));
  if (q.has('pre_generated_steps')) question.pre_generated_steps = q.at('pre_generated_steps').stringArray();
  if (q.has('pre_generated_answer')) question.pre_generated_answer = q.at('pre_generated_answer').string();
  if (q.has('pre_generated_verifier_score')) question.pre_generated_verifier_score = q.at('pre_generated_verifier_score').number();
  const l = f.at('label');
  const finish = l.at('finish_reason');
  if (!FINISH_REASONS.includes(finish.string())) throw finish.error(`expected one of ${FINISH_REASONS.join(', ')}`);
  const steps = l.at('steps').items().map((s): Prm800kStep => {
    const cs = s.at('completions');
    const completions = cs.isNull() ? null : cs.items().map(completion);
    const hc = s.at('human_completion');
    const cc = s.at('chosen_completion');
    let chosen: number | null = null;
    if (!cc.isNull()) {
      chosen = cc.number();
      if (!Number.isInteger(chosen) || chosen < 0 || chosen >= (completions?.length ?? 0)) {
        throw cc.error(`expected an index into completions (${completions?.length ?? 0}), got ${chosen}`);
      }
    }
    return { completions, human_completion: hc.isNull() ? null : completion(hc), chosen_completion: chosen };
  });
  return {
    labeler: f.at('labeler').string(),
    timestamp: f.at('timestamp').string(),
    generation: gen.isNull() ? null : gen.number(),
    is_quality_control_question: f.at('is_quality_control_question').boolean(),
    is_initial_screening_question: f.at('is_initial_screening_question').boolean(),
    question,
    label: { steps, total_time: l.at('total_time').number(), finish_reason: finish.string() },
  };
}

/** The plain JSON object of a record (field order as in the PRM800K files). */
export function serializePrm800k(record: Prm800kRecord): Record<string, unknown> {
  return JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
}

/** Read a PRM800K file: JSON Lines, or JSON objects one after another (the example files). */
export function readPrm800k(path: string): Prm800kRecord[] {
  return readConcatenatedJson(path).map(({ line, value }) => parsePrm800k(value, { file: path, line }));
}

export interface Prm800kLabelOptions {
  /** How a 0 ("neutral": fine but not progress) rating maps to a boolean label (default true). */
  neutral?: boolean;
  problemId?: string;
}

function ratingLabel(r: Prm800kRating, neutral: boolean): boolean | null {
  return r === 1 ? true : r === -1 ? false : r === 0 ? neutral : null;
}

/**
 * The labelled path of a record: at each step the chosen completion, else the human completion (labelled good:
 * a labeller wrote it as the fix), else the labeller stopped and the path ends with the first -1-rated
 * completion (labelled bad) if there is one. Unrated steps end the path.
 */
export function prm800kToStepLabelled(record: Prm800kRecord, options: Prm800kLabelOptions = {}): StepLabelledSolution {
  const neutral = options.neutral ?? true;
  const steps: string[] = [];
  const labels: boolean[] = [];
  for (const s of record.label.steps) {
    const cs = s.completions ?? [];
    if (s.chosen_completion !== null) {
      const c = cs[s.chosen_completion];
      const lab = ratingLabel(c.rating, neutral);
      if (lab === null) break;
      steps.push(c.text);
      labels.push(lab);
      continue;
    }
    if (s.human_completion) {
      steps.push(s.human_completion.text);
      labels.push(true);
      continue;
    }
    const bad = cs.find((c) => c.rating === -1);
    if (bad) {
      steps.push(bad.text);
      labels.push(false);
    }
    break;
  }
  return { problemId: options.problemId ?? '', prompt: record.question.problem, steps, labels, source: 'prm800k' };
}

/**
 * Sibling step pairs: at each step on the labelled path, every (+1, -1) pair of rated completions, sharing the
 * path so far as prefix. Values are the ratings mapped to 1 / 0.
 */
export function prm800kStepPairs(record: Prm800kRecord, problemId = ''): StepPair[] {
  const pairs: StepPair[] = [];
  const prefix: string[] = [];
  for (const s of record.label.steps) {
    const cs = s.completions ?? [];
    for (const good of cs.filter((c) => c.rating === 1)) {
      for (const bad of cs.filter((c) => c.rating === -1)) {
        pairs.push({
          schema: 'stepwise.step-pair@1',
          problemId,
          prompt: record.question.problem,
          prefixSteps: [...prefix],
          chosen: good.text,
          rejected: bad.text,
          chosenValue: 1,
          rejectedValue: 0,
          rule: 'prm800k-ratings',
        });
      }
    }
    const next = s.chosen_completion !== null ? cs[s.chosen_completion].text : s.human_completion?.text;
    if (next === undefined) break;
    prefix.push(next);
  }
  return pairs;
}

/**
 * A minimal PRM800K record for a step-labelled solution (one rated completion per step, all chosen): for
 * exporting stepwise labels to tools that read PRM800K. Labeller, timestamps and alternatives are not invented:
 * labeler "stepwise", timestamp "", total_time 0.
 */
export function stepLabelledToPrm800k(solution: StepLabelledSolution, groundTruthAnswer: string | null = null): Prm800kRecord {
  if (solution.steps.length !== solution.labels.length) {
    throw new TaskArgumentError('solution.labels', `one label per step (${solution.steps.length})`, solution.labels);
  }
  const firstBad = solution.labels.indexOf(false);
  return {
    labeler: 'stepwise',
    timestamp: '',
    generation: null,
    is_quality_control_question: false,
    is_initial_screening_question: false,
    question: { problem: solution.prompt, ground_truth_answer: groundTruthAnswer },
    label: {
      steps: solution.steps.map((text, i) => ({
        completions: [{ text, rating: solution.labels[i] ? 1 : -1, flagged: false }],
        human_completion: null,
        // Every step is "chosen", bad ones too, so steps after a bad one (Math-Shepherd-style labels can turn
        // good again) stay on the path and the record converts back to the same labels.
        chosen_completion: 0,
      })),
      total_time: 0,
      finish_reason: firstBad === -1 ? 'solution' : 'found_error',
    },
  };
}
