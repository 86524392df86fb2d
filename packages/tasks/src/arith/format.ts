/**
 * Text form of arith-v1: question sentences, step lines and the answer line, and their parsers.
 *
 * The grammar is deliberately rigid (one template per operation, single spaces, canonical integers) so that a
 * character-level model sees the same shapes every time and the checker never has to guess what a step means.
 */
import { TaskArgumentError } from '../errors.js';
import type { ArithOp, ArithSpec, Distractor } from './spec.js';

/** Separator between steps in a solution text (each step, including the last, is followed by it). */
export const STEP_SEPARATOR = '\n';
export const ANSWER_PREFIX = 'The answer is ';

const OP_TEMPLATES: Record<ArithOp, (name: string, x: number) => string> = {
  '+': (n, x) => `${n} gets ${x}.`,
  '-': (n, x) => `${n} loses ${x}.`,
  '*': (n, x) => `${n} has ${x} times that.`,
  '/': (n, x) => `${n} keeps 1/${x}.`,
};

export function renderQuestion(spec: ArithSpec): string {
  const sentences = [`${spec.name} has ${spec.start} ${spec.noun}.`];
  const before = (slot: number) =>
    spec.distractors.forEach((d, i) => {
      if (spec.distractorSlots[i] === slot) sentences.push(`${d.name} has ${d.value} ${d.noun}.`);
    });
  spec.operations.forEach((o, k) => {
    before(k);
    sentences.push(OP_TEMPLATES[o.op](spec.name, o.operand));
  });
  before(spec.operations.length);
  sentences.push(`How many ${spec.noun} now?`);
  return sentences.join(' ');
}

/** A canonical non-negative or negative integer: no leading zeros, no plus sign, at most 15 digits. */
const INT = '-?(?:0|[1-9]\\d{0,14})';
const NAT = '(?:0|[1-9]\\d{0,14})';

const RE_START = new RegExp(`^([A-Z][a-z]{2}) has (${NAT}) ([a-z]+)\\.$`);
const RE_OPS: [RegExp, ArithOp][] = [
  [new RegExp(`^([A-Z][a-z]{2}) gets (${NAT})\\.$`), '+'],
  [new RegExp(`^([A-Z][a-z]{2}) loses (${NAT})\\.$`), '-'],
  [new RegExp(`^([A-Z][a-z]{2}) has (${NAT}) times that\\.$`), '*'],
  [new RegExp(`^([A-Z][a-z]{2}) keeps 1/(${NAT})\\.$`), '/'],
];
const RE_DISTRACTOR = RE_START;
const RE_END = /^How many ([a-z]+) now\?$/;

/**
 * Parse a rendered question back to its spec; throws TaskArgumentError naming the sentence that does not fit
 * the grammar. The checker works from the question text (not from Problem.meta), so a problem is checkable
 * from its text alone.
 */
export function parseQuestion(question: string): ArithSpec {
  const sentences = question.split(/(?<=[.?]) /);
  const bad = (i: number, why: string): never => {
    throw new TaskArgumentError(`question sentence ${i + 1}`, why, sentences[i]);
  };
  if (sentences.length < 3) bad(0, 'an arith-v1 question (opening, operations, "How many ... now?")');
  const first = RE_START.exec(sentences[0]) ?? bad(0, '"<Name> has <n> <noun>."');
  const [, name, startText, noun] = first;
  const spec: ArithSpec = { name, noun, start: Number(startText), operations: [], distractors: [], distractorSlots: [] };
  for (let i = 1; i < sentences.length - 1; i++) {
    const s = sentences[i];
    const op = RE_OPS.find(([re]) => re.test(s));
    if (op) {
      const m = op[0].exec(s)!;
      if (m[1] !== name) bad(i, `an operation on ${name}'s ${noun}`);
      spec.operations.push({ op: op[1], operand: Number(m[2]) });
      continue;
    }
    const d = RE_DISTRACTOR.exec(s);
    if (d && d[1] !== name && d[3] !== noun) {
      const distractor: Distractor = { name: d[1], value: Number(d[2]), noun: d[3] };
      spec.distractors.push(distractor);
      spec.distractorSlots.push(spec.operations.length);
      continue;
    }
    bad(i, 'an operation sentence or a distractor "<Other> has <n> <other noun>."');
  }
  const end = RE_END.exec(sentences[sentences.length - 1]);
  if (!end || end[1] !== noun) bad(sentences.length - 1, `"How many ${noun} now?"`);
  if (spec.operations.length === 0) bad(1, 'at least one operation sentence');
  return spec;
}

export function formatStep(index: number, a: number, op: ArithOp, b: number, result: number): string {
  return `Step ${index}: ${a} ${op} ${b} = ${result}`;
}

export function formatAnswer(value: number): string {
  return `${ANSWER_PREFIX}${value}`;
}

export type ParsedLine =
  | { kind: 'step'; index: number; a: number; op: ArithOp; b: number; result: number }
  | { kind: 'answer'; value: number }
  | { kind: 'malformed'; why: string };

const RE_STEP = new RegExp(`^Step (${NAT}): (${INT}) ([-+*/]) (${INT}) = (${INT})$`);
const RE_ANSWER = new RegExp(`^The answer is (${INT})$`);

/**
 * Parse one step string. Trailing whitespace (the step separator a sampler may leave on) is ignored; anything
 * else that is off the grammar is malformed.
 */
export function parseLine(text: string): ParsedLine {
  const t = text.replace(/\s+$/, '');
  const s = RE_STEP.exec(t);
  if (s) return { kind: 'step', index: Number(s[1]), a: Number(s[2]), op: s[3] as ArithOp, b: Number(s[4]), result: Number(s[5]) };
  const a = RE_ANSWER.exec(t);
  if (a) return { kind: 'answer', value: Number(a[1]) };
  if (t.startsWith('Step ')) return { kind: 'malformed', why: 'expected "Step <k>: <a> <op> <b> = <c>"' };
  if (t.startsWith('The answer')) return { kind: 'malformed', why: 'expected "The answer is <integer>"' };
  return { kind: 'malformed', why: 'neither a step line nor an answer line' };
}

/** The prompt a policy is conditioned on: the question and one separator. */
export function promptText(question: string): string {
  return question + STEP_SEPARATOR;
}

/** Steps joined into a completion: every step followed by STEP_SEPARATOR. */
export function solutionText(steps: readonly string[]): string {
  return steps.map((s) => s + STEP_SEPARATOR).join('');
}

/** Inverse of solutionText: split at STEP_SEPARATOR, dropping the empty tail after the last separator. */
export function splitSolution(text: string): string[] {
  if (typeof text !== 'string') throw new TaskArgumentError('text', 'a string', text);
  const parts = text.split(STEP_SEPARATOR);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
