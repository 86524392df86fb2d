/**
 * GSM8K JSONL ({"question", "answer"}) → core Problem. The gold answer is the text after "#### " on the last
 * line of `answer`, with thousands separators removed; the lines before it become the reference steps.
 */
import type { Problem } from '@stepwise/core';
import { MEMORY_SOURCE, type RecordSource } from '../errors.js';
import { fieldsOf, readDatasetJsonl } from '../json-input.js';

export interface Gsm8kOptions {
  /** Split name used in ids and `source` (default "test"). */
  split?: string;
  /** Keep or strip the inline calculator annotations "<<a*b=c>>" in the steps (default "strip"). */
  calculator?: 'keep' | 'strip';
}

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)$/;

/** The gold answer of a GSM8K solution text, or null when it has no "#### <number>" last line. */
export function gsm8kGold(answerText: string): string | null {
  const lines = answerText.trimEnd().split('\n');
  const last = lines[lines.length - 1];
  if (!last.startsWith('#### ')) return null;
  const gold = last.slice(5).trim().replace(/,/g, '');
  return NUMBER.test(gold) ? gold : null;
}

/** Convert one parsed GSM8K record; `index` is its 0-based position in the file (used in the id). */
export function gsm8kProblem(record: unknown, index: number, options: Gsm8kOptions = {}, src: RecordSource = MEMORY_SOURCE): Problem {
  const split = options.split ?? 'test';
  const f = fieldsOf(record, src);
  const question = f.at('question').string();
  const answerField = f.at('answer');
  const answerText = answerField.string();
  const gold = gsm8kGold(answerText);
  if (gold === null) throw answerField.error('expected a last line "#### <number>"');
  const body = answerText.trimEnd().split('\n').slice(0, -1);
  const strip = (options.calculator ?? 'strip') === 'strip';
  const steps = body.map((l) => (strip ? l.replace(/<<[^<>]*>>/g, '') : l).trim()).filter((l) => l.length > 0);
  return {
    id: `gsm8k/${split}/${index}`,
    question,
    answer: gold,
    source: `gsm8k/${split}`,
    solutionSteps: steps,
    meta: { dataset: 'gsm8k', split, solution: answerText },
  };
}

/** Load a GSM8K JSONL file (e.g. shared/data/gsm8k/test.jsonl). */
export function loadGsm8k(path: string, options: Gsm8kOptions = {}): Problem[] {
  return readDatasetJsonl(path).map(({ line, value }, i) => gsm8kProblem(value, i, options, { file: path, line }));
}
