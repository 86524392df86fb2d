/**
 * Step segmentation (methods.md §1.1). A solution is a list of steps whose plain concatenation is the
 * solution text: splitting is lossless (`joinSteps(splitSteps(t, rule)) === t`), delimiters and labels stay
 * inside the steps. That way the state s_t = x | a_1 | … | a_t is always `prompt + joinSteps(steps[0..t])`,
 * the token alignment of ./align.ts sees exactly the text the policy produced, and `stepBody` recovers the
 * bare step (without label or delimiter) where a format wants it (Step-DPO's `chosen`, PRM inputs).
 */
import { ArgumentError } from './errors.js';

export type StepRule =
  /**
   * Explicit labels "Step k:" (Step-DPO / Full-Step-DPO): a step starts at a label found at the start of the
   * text or of a line; the label stays at the start of its step, the newline before it at the end of the
   * previous step. Text before the first label is the first step (the prompt is often primed with
   * "Step 1: ", so the completion starts with the first step's body).
   */
  | { kind: 'labels'; label?: string }
  /** A fixed delimiter ("\n\n" for SVPO round 1 and Qwen PRM inputs, "\n" for SFT formats); it ends its step. */
  | { kind: 'delimiter'; delimiter: string }
  /** A custom pattern; each match ends the previous step (`keep: 'end'`, default) or starts the next one. */
  | { kind: 'regex'; pattern: RegExp; keep?: 'end' | 'start' };

export const STEP_RULES = {
  stepLabels: { kind: 'labels', label: 'Step' },
  doubleNewline: { kind: 'delimiter', delimiter: '\n\n' },
  newline: { kind: 'delimiter', delimiter: '\n' },
} as const satisfies Record<string, StepRule>;

/**
 * Splits `text` into steps by `rule`. Pieces that hold only whitespace (a run of delimiters, a trailing
 * newline) are merged into the step before them (or after them, at the start), so no step is blank.
 * Empty text gives no steps.
 */
export function splitSteps(text: string, rule: StepRule): string[] {
  if (text.length === 0) return [];
  const cuts = cutPoints(text, rule);
  const pieces: string[] = [];
  let start = 0;
  for (const cut of cuts) {
    if (cut > start && cut < text.length) pieces.push(text.slice(start, cut)), (start = cut);
  }
  pieces.push(text.slice(start));
  const steps: string[] = [];
  let carry = ''; // leading blank pieces, prepended to the first real step
  for (const piece of pieces) {
    if (piece.trim().length === 0) {
      if (steps.length > 0) steps[steps.length - 1] += piece;
      else carry += piece;
    } else {
      steps.push(carry + piece);
      carry = '';
    }
  }
  if (carry) steps.push(carry); // the whole text was blank: one blank step keeps the split lossless
  return steps;
}

/** The inverse of splitSteps: plain concatenation (steps carry their own delimiters and labels). */
export function joinSteps(steps: readonly string[]): string {
  return steps.join('');
}

function cutPoints(text: string, rule: StepRule): number[] {
  switch (rule.kind) {
    case 'labels': {
      const label = rule.label ?? 'Step';
      if (label.length === 0) throw new ArgumentError('rule.label', 'a non-empty label', label);
      return matchPositions(text, new RegExp(`(?:^|(?<=\\n))${escapeRegExp(label)}[ \\t]*\\d+[ \\t]*:`, 'g'), 'start');
    }
    case 'delimiter': {
      if (rule.delimiter.length === 0) throw new ArgumentError('rule.delimiter', 'a non-empty delimiter', rule.delimiter);
      const cuts: number[] = [];
      for (let i = text.indexOf(rule.delimiter); i !== -1; i = text.indexOf(rule.delimiter, i + rule.delimiter.length)) {
        cuts.push(i + rule.delimiter.length);
      }
      return cuts;
    }
    case 'regex':
      return matchPositions(text, rule.pattern, rule.keep ?? 'end');
  }
}

function matchPositions(text: string, pattern: RegExp, keep: 'end' | 'start'): number[] {
  // A private global copy: the caller's RegExp (and its lastIndex) is left alone, and every match is found.
  const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  const cuts: number[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++; // an empty match would loop forever; it marks a position, which is all we need
      cuts.push(m.index);
      continue;
    }
    cuts.push(keep === 'end' ? m.index + m[0].length : m.index);
  }
  return cuts;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The bare content of one step: without its "Step k:" label (labels rule) and without surrounding
 * whitespace and trailing delimiters.
 */
export function stepBody(step: string, rule: StepRule): string {
  let body = step;
  if (rule.kind === 'labels') {
    const label = escapeRegExp(rule.label ?? 'Step');
    body = body.replace(new RegExp(`^\\s*${label}[ \\t]*\\d+[ \\t]*:`), '');
  } else if (rule.kind === 'delimiter') {
    while (body.endsWith(rule.delimiter)) body = body.slice(0, -rule.delimiter.length);
  }
  return body.trim();
}

/**
 * Builds step strings from bare bodies so that `splitSteps(joinSteps(result), rule)` gives them back:
 * labels → "Step k: body" + "\n" between steps (k from `firstLabel`, default 1); delimiter → body + delimiter
 * between steps. The last step gets no trailing delimiter. Not defined for regex rules (no canonical form).
 */
export function formatSteps(bodies: readonly string[], rule: Exclude<StepRule, { kind: 'regex' }>, firstLabel = 1): string[] {
  return bodies.map((body, i) => {
    const last = i === bodies.length - 1;
    if (rule.kind === 'labels') return `${rule.label ?? 'Step'} ${firstLabel + i}: ${body}${last ? '' : '\n'}`;
    return last ? body : body + rule.delimiter;
  });
}
