/**
 * The PRM as a generative verifier on the char-level engine: the model reads BOS + prompt + solution text, and
 * the row of each step's closing separator ("\n") predicts a label character, '+' (good) or '-' (bad), in place
 * of the next solution character. The label is never inserted into the input, so one forward pass over the
 * plain solution text scores every step (TRL's PRM format puts the label on the last token of each step,
 * methods.md §11.3; here that last token is the separator).
 */
import { CharTokenizer, type Problem } from '@stepwise/core';
import type { Batch } from '@stepwise/native';
import { STEP_SEPARATOR, promptText } from '@stepwise/tasks';

import { PrmArgumentError } from './errors.js';

export const LABEL_GOOD = '+';
export const LABEL_BAD = '-';

/** One training / scoring item: a (partial or full) solution with one label in [0, 1] per step. */
export interface PrmExample {
  problem: Problem;
  steps: readonly string[];
  /** labels[k] is the target value of the prefix steps[0..k] (1 = good). */
  labels: readonly number[];
}

export interface EncodedSolution {
  tokens: number[];
  /** stepEnds[k] = index (in tokens) of step k's separator: the row whose prediction is step k's label. */
  stepEnds: number[];
  /** Tokens of BOS + prompt: the solution starts at this index. */
  promptLen: number;
}

export interface LabelIds {
  good: number;
  bad: number;
}

export function labelIds(tokenizer: CharTokenizer): LabelIds {
  return { good: tokenizer.encode(LABEL_GOOD)[0]!, bad: tokenizer.encode(LABEL_BAD)[0]! };
}

/** Tokens of BOS + promptText(question) + every step followed by the separator, and where each step ends. */
export function encodeSolution(tokenizer: CharTokenizer, question: string, steps: readonly string[], maxLen = Infinity): EncodedSolution {
  if (typeof question !== 'string') throw new PrmArgumentError('question', 'a string', typeof question);
  const tokens = [tokenizer.bosId, ...tokenizer.encode(promptText(question))];
  const stepEnds: number[] = [];
  const promptLen = tokens.length;
  steps.forEach((s, k) => {
    if (typeof s !== 'string') throw new PrmArgumentError(`steps[${k}]`, 'a string', typeof s);
    // A separator inside a step would put a label row in the middle of it.
    if (s.includes(STEP_SEPARATOR)) throw new PrmArgumentError(`steps[${k}]`, 'a step without the step separator "\\n"', s);
    tokens.push(...tokenizer.encode(s + STEP_SEPARATOR));
    stepEnds.push(tokens.length - 1);
  });
  if (tokens.length > maxLen) throw new PrmArgumentError('steps', `a prompt + solution of at most ${maxLen} tokens (the model's maxSeqLen)`, tokens.length);
  return { tokens, stepEnds, promptLen };
}

/**
 * 'ce': full-vocabulary cross-entropy of the label character (hard labels only; one copy of each sequence).
 * 'bce': binary cross-entropy of sigmoid(z+ - z-), i.e. softmax renormalised over the two label logits (soft
 * labels allowed). The engine differentiates only log p(target) per row, and one row has one target, so 'bce'
 * packs each sequence twice, once targeting '+' and once '-': log p(+) - log p(-) = z+ - z- on the same row.
 */
export type PrmObjective = 'ce' | 'bce';

export interface PrmBatchPlan {
  batch: Batch;
  objective: PrmObjective;
  /** Per example, per step: the token row holding log p(+) (bce) or log p(label) (ce). */
  rowGood: number[][];
  /** Per example, per step: the row holding log p(-) (bce only; -1 for ce). */
  rowBad: number[][];
  /** Rows of the auxiliary next-token loss on solution characters (empty unless asked for). */
  lmRows: number[];
}

/** Packs encoded solutions into one engine batch whose only targets are the label rows. */
/**
 * With `lm`, the first copy of each sequence also keeps its next-token targets on the solution's other rows:
 * an auxiliary language-modelling loss that gives dense signal (e.g. what a op b is) to a model trained from
 * scratch, where the sparse step labels alone teach arithmetic slowly.
 */
export function buildPrmBatch(
  items: readonly EncodedSolution[],
  labels: readonly (readonly number[])[],
  ids: LabelIds,
  objective: PrmObjective,
  lm = false,
): PrmBatchPlan {
  if (objective !== 'ce' && objective !== 'bce') throw new PrmArgumentError('objective', "'ce' or 'bce'", objective);
  if (labels.length !== items.length) throw new PrmArgumentError('labels', `${items.length} label lists`, labels.length);
  const copies = objective === 'bce' ? 2 : 1;
  let total = 0;
  for (const it of items) total += it.tokens.length * copies;
  const tokens = new Int32Array(total);
  const targets = new Int32Array(total).fill(-1);
  const offsets = new Int32Array(items.length * copies + 1);
  const rowGood: number[][] = [];
  const rowBad: number[][] = [];
  const lmRows: number[] = [];
  let pos = 0;
  let seq = 0;
  items.forEach((it, i) => {
    const ys = labels[i]!;
    if (ys.length !== it.stepEnds.length) throw new PrmArgumentError(`labels[${i}]`, `${it.stepEnds.length} labels (one per step)`, ys.length);
    const good: number[] = [];
    const bad: number[] = [];
    for (let c = 0; c < copies; c++) {
      tokens.set(it.tokens, pos);
      if (lm && c === 0)
        for (let t = it.promptLen - 1; t < it.tokens.length - 1; t++) {
          targets[pos + t] = it.tokens[t + 1]!;
          lmRows.push(pos + t);
        }
      it.stepEnds.forEach((e, k) => {
        const y = ys[k]!;
        if (!(y >= 0 && y <= 1)) throw new PrmArgumentError(`labels[${i}][${k}]`, 'a number in [0, 1]', y);
        if (objective === 'ce' && y !== 0 && y !== 1) throw new PrmArgumentError(`labels[${i}][${k}]`, "0 or 1 with objective 'ce' (use 'bce' for soft labels)", y);
        const row = pos + e;
        if (lm && c === 0) lmRows.splice(lmRows.indexOf(row), 1); // the label replaces the next character here
        if (objective === 'ce') {
          targets[row] = y === 1 ? ids.good : ids.bad;
          good.push(row);
          bad.push(-1);
        } else if (c === 0) {
          targets[row] = ids.good;
          good.push(row);
        } else {
          targets[row] = ids.bad;
          bad.push(row);
        }
      });
      pos += it.tokens.length;
      offsets[++seq] = pos;
    }
    rowGood.push(good);
    rowBad.push(bad);
  });
  return { batch: { tokens, offsets, targets }, objective, rowGood, rowBad, lmRows };
}
