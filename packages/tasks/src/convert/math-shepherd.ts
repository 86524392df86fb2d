/**
 * Math-Shepherd records ({input, label, task}) ↔ StepLabelledSolution.
 *
 * `input` is the question, a space, then the steps ("Step 1: ...") each followed by the tag " ки", steps
 * separated by "\n". `label` is the same text with each tag's "ки" replaced by "+" or "-" (the hard Monte-Carlo
 * label). Parsing rebuilds both strings from the parts and requires them to match byte for byte, so anything
 * off this shape is a FormatError naming the field rather than a silently wrong label.
 */
import { MEMORY_SOURCE, TaskArgumentError, type RecordSource } from '../errors.js';
import { fieldsOf } from '../json-input.js';
import type { StepLabelledSolution } from './types.js';

export const SHEPHERD_TAG = 'ки';

export interface MathShepherdRecord {
  input: string;
  label: string;
  task: string;
}

export interface MathShepherdSolution extends StepLabelledSolution {
  task: string;
}

function compose(question: string, steps: readonly string[], marks: readonly string[]): string {
  return `${question} ${steps.map((s, i) => `${s} ${marks[i]}`).join('\n')}`;
}

export function fromMathShepherd(record: unknown, problemId = '', src: RecordSource = MEMORY_SOURCE): MathShepherdSolution {
  const f = fieldsOf(record, src);
  const input = f.at('input').string();
  const label = f.at('label').string();
  const task = f.at('task').string();
  const start = input.indexOf(' Step 1:');
  if (start < 0) throw f.at('input').error('expected the question followed by " Step 1:"');
  const question = input.slice(0, start);
  const body = input.slice(start + 1);
  const tagged = body.split(`\n`);
  // A step may span lines; a line that ends with the tag closes a step.
  const steps: string[] = [];
  let current: string[] = [];
  for (const line of tagged) {
    current.push(line);
    if (line.endsWith(` ${SHEPHERD_TAG}`)) {
      const text = current.join('\n');
      steps.push(text.slice(0, text.length - SHEPHERD_TAG.length - 1));
      current = [];
    }
  }
  if (current.length > 0 || steps.length === 0) throw f.at('input').error(`expected every step to end with " ${SHEPHERD_TAG}"`);
  if (compose(question, steps, steps.map(() => SHEPHERD_TAG)) !== input) {
    throw f.at('input').error(`steps are not separated as "<step> ${SHEPHERD_TAG}\\n"`);
  }
  // The label string has the same layout; read the mark where each tag was.
  const labels: boolean[] = [];
  let pos = question.length + 1;
  for (let i = 0; i < steps.length; i++) {
    pos += steps[i].length + 1;
    const mark = label[pos];
    if (mark !== '+' && mark !== '-') throw f.at('label').error(`expected "+" or "-" where step ${i + 1}'s tag is, got ${JSON.stringify(mark ?? '')}`);
    labels.push(mark === '+');
    pos += 2;
  }
  if (compose(question, steps, labels.map((l) => (l ? '+' : '-'))) !== label) {
    throw f.at('label').error('differs from input apart from the tags');
  }
  return { problemId, prompt: question, steps, labels, source: 'math-shepherd', task };
}

export function toMathShepherd(solution: StepLabelledSolution, task = 'GSM8K'): MathShepherdRecord {
  if (solution.steps.length !== solution.labels.length || solution.steps.length === 0) {
    throw new TaskArgumentError('solution.labels', `one label per step, at least one step (${solution.steps.length})`, solution.labels);
  }
  solution.steps.forEach((s, i) => {
    if (s.includes(SHEPHERD_TAG)) throw new TaskArgumentError(`solution.steps[${i}]`, `text without the tag "${SHEPHERD_TAG}"`, s);
  });
  return {
    input: compose(solution.prompt, solution.steps, solution.steps.map(() => SHEPHERD_TAG)),
    label: compose(solution.prompt, solution.steps, solution.labels.map((l) => (l ? '+' : '-'))),
    task,
  };
}
