/**
 * Step-DPO records (xinlai/Math-Step-DPO-10K: dataset, prompt, initial_reason_steps, chosen, rejected,
 * full_chosen, full_rejected, answer) ↔ StepPair.
 *
 * initial_reason_steps is "<header><step 1>\n...\n<step k-1>\nStep k:": the header (default "Let's think step
 * by step.\n") primes the assistant turn, and the dangling "Step k:" label belongs to the step being compared.
 * In a StepPair the label is part of chosen/rejected, so steps read the same as in a tree. The fields a StepPair
 * has no room for (dataset, answer, full continuations, header) travel in StepDpoExtras, which makes the
 * conversion exact in both directions.
 */
import type { StepPair } from '@stepwise/core';
import { MEMORY_SOURCE, TaskArgumentError, type RecordSource } from '../errors.js';
import { fieldsOf } from '../json-input.js';

export const STEP_DPO_HEADER = "Let's think step by step.\n";

export interface StepDpoRecord {
  dataset?: string;
  prompt: string;
  initial_reason_steps: string;
  chosen: string;
  rejected: string;
  full_chosen: string;
  full_rejected: string;
  answer: string;
}

export interface StepDpoExtras {
  /** Absent when the record had no `dataset` field. */
  dataset?: string;
  answer: string;
  fullChosen: string;
  fullRejected: string;
  /** Text before the first step (the priming header), "" when none. */
  header: string;
  /** Whether the "Step k:" label was written at the end of initial_reason_steps (the Step-DPO convention). */
  labelInPrefix: boolean;
}

const LABEL_AT_END = /(?:^|\n)(Step \d+:)$/;
const STEP_START = /\n(?=Step \d+:)/;
const LABEL_AT_START = /^Step \d+:/;

export function fromStepDpo(record: unknown, problemId = '', src: RecordSource = MEMORY_SOURCE): { pair: StepPair; extras: StepDpoExtras } {
  const f = fieldsOf(record, src);
  const dataset = f.has('dataset') ? f.at('dataset').string() : undefined;
  const prompt = f.at('prompt').string();
  const irs = f.at('initial_reason_steps').string();
  const chosen = f.at('chosen').string();
  const rejected = f.at('rejected').string();
  const fullChosen = f.at('full_chosen').string();
  const fullRejected = f.at('full_rejected').string();
  const answer = f.at('answer').string();

  const header = irs.startsWith(STEP_DPO_HEADER) ? STEP_DPO_HEADER : '';
  const rest = irs.slice(header.length);
  const m = LABEL_AT_END.exec(rest);
  const label = m ? m[1] : '';
  const body = m ? rest.slice(0, rest.length - m[0].length) : rest;
  const prefixSteps = body === '' ? [] : body.split(STEP_START);
  const pair: StepPair = {
    schema: 'stepwise.step-pair@1',
    problemId,
    prompt,
    prefixSteps,
    chosen: label + chosen,
    rejected: label + rejected,
    chosenValue: null,
    rejectedValue: null,
    rule: 'step-dpo-first-error',
  };
  const extras: StepDpoExtras = { answer, fullChosen, fullRejected, header, labelInPrefix: label !== '' };
  if (dataset !== undefined) extras.dataset = dataset;
  return { pair, extras };
}

/**
 * StepPair → Step-DPO record. Without extras: header "Let's think step by step.\n", the label moved into the
 * prefix when chosen and rejected start with the same "Step k:", full_* = the single steps, answer required.
 */
export function toStepDpo(pair: StepPair, extras: Partial<StepDpoExtras> & { answer: string }): StepDpoRecord {
  if (pair?.schema !== 'stepwise.step-pair@1') throw new TaskArgumentError('pair.schema', '"stepwise.step-pair@1"', (pair as { schema?: unknown })?.schema);
  if (typeof extras?.answer !== 'string') throw new TaskArgumentError('extras.answer', 'the gold answer as a string', extras?.answer);
  const cLabel = LABEL_AT_START.exec(pair.chosen)?.[0];
  const rLabel = LABEL_AT_START.exec(pair.rejected)?.[0];
  const canMove = cLabel !== undefined && cLabel === rLabel;
  const moveLabel = extras.labelInPrefix ?? canMove;
  if (moveLabel && !canMove) {
    throw new TaskArgumentError('pair.chosen/rejected', 'both starting with the same "Step k:" label (extras.labelInPrefix is true)', pair.chosen);
  }
  const label = moveLabel ? cLabel! : '';
  const body = pair.prefixSteps.join('\n');
  const rest = label ? (body ? `${body}\n${label}` : label) : body;
  const chosen = pair.chosen.slice(label.length);
  const rejected = pair.rejected.slice(label.length);
  const rec: StepDpoRecord = {
    prompt: pair.prompt,
    initial_reason_steps: (extras.header ?? STEP_DPO_HEADER) + rest,
    chosen,
    rejected,
    full_chosen: extras.fullChosen ?? chosen,
    full_rejected: extras.fullRejected ?? rejected,
    answer: extras.answer,
  };
  return extras.dataset !== undefined ? { dataset: extras.dataset, ...rec } : rec;
}
