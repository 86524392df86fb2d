/**
 * Token/step alignment (methods.md §1.2, §13): for a prompt and its steps, the token ids of the whole text
 * and, per token, the index of the step it belongs to (-1 for prompt tokens). Every loss (Step-DPO, SPPD,
 * Full-Step-DPO, value and PRM heads) is a mask or a weighting over this one structure.
 *
 * Rule (mode 'joint', the default): the text `prompt + joinSteps(steps)` is tokenised in one go, as the
 * model sees it, and each token belongs to the step in which its LAST character lies ("a token belongs to
 * the step where it ends"). A token that BPE merged across a boundary therefore goes to the later step —
 * the same choice as Step-DPO's trainer, which counts a prompt/completion merge as completion — and a
 * prompt/step merge is never masked out as prompt. Tokens that end inside a multi-byte character (byte-level
 * BPE can split one) end in that character. Consequence: a step can own zero tokens when one token spans
 * it entirely (e.g. a step "a" followed by "b" merged into "ab"); `emptySteps` lists those.
 *
 * Mode 'separate' tokenises the prompt and every step on its own and concatenates the ids: boundaries are
 * exact and every non-empty step owns its tokens, but the ids can differ from the joint tokenisation. This
 * is what a step-by-step sampler produced, so it is the right choice for ids stored in a tree.
 */
import { AlignmentError, ArgumentError } from './errors.js';
import type { Tokenizer } from './tokenizer.js';

export interface AlignOptions {
  mode?: 'joint' | 'separate';
  /** Prepend the tokenizer's BOS (step -1); an error when it has none. */
  bos?: boolean;
  /** Append the tokenizer's EOS, attributed to the last step (a complete solution); an error when it has none. */
  eos?: boolean;
}

export interface AlignedTokens {
  ids: number[];
  /** Per token: -1 for prompt (and BOS) tokens, k for step k. Non-decreasing. */
  stepIndex: number[];
  /** Per token: the UTF-16 offset in `text` where it ends (BOS: 0, EOS: text.length). Non-decreasing. */
  tokenEnds: number[];
  /** prompt + joinSteps(steps). */
  text: string;
  /** Number of leading tokens with stepIndex -1 (the masked prompt, BOS included). */
  promptTokens: number;
  /** Per step: its [start, end) character span in `text`. */
  stepCharSpans: [number, number][];
  /** Per step: its [start, end) token range (contiguous because stepIndex is non-decreasing). */
  stepTokenRanges: [number, number][];
  /** Steps that own no token (see the module comment). */
  emptySteps: number[];
}

export function alignSteps(tokenizer: Tokenizer, prompt: string, steps: readonly string[], options: AlignOptions = {}): AlignedTokens {
  const mode = options.mode ?? 'joint';
  if (mode !== 'joint' && mode !== 'separate') throw new ArgumentError('options.mode', '"joint" or "separate"', mode);
  const text = prompt + steps.join('');
  // Character span of each part: the prompt is part -1, step k is part k.
  const starts = [prompt.length];
  for (const s of steps) starts.push(starts[starts.length - 1] + s.length);
  const stepCharSpans = steps.map((_, k): [number, number] => [starts[k], starts[k + 1]]);

  let ids: number[];
  let tokenEnds: number[];
  let stepIndex: number[];
  if (mode === 'joint') {
    ({ ids, ends: tokenEnds } = tokenEndsOf(tokenizer, text));
    // Step of the last character of each token; a zero-width token goes with the character before it.
    let k = -1;
    stepIndex = tokenEnds.map((end) => {
      while (k < steps.length - 1 && end - 1 >= starts[k + 1]) k++;
      return k;
    });
  } else {
    // Exact by construction: every token belongs to the part that produced it.
    ids = [];
    tokenEnds = [];
    stepIndex = [];
    [prompt, ...steps].forEach((part, p) => {
      const base = p === 0 ? 0 : starts[p - 1];
      const r = tokenEndsOf(tokenizer, part);
      ids.push(...r.ids);
      for (const e of r.ends) tokenEnds.push(base + e), stepIndex.push(p - 1);
    });
  }
  if (options.bos) {
    if (tokenizer.bosId === null) throw new ArgumentError('options.bos', `a tokenizer with a BOS token (${tokenizer.name} has none)`);
    ids.unshift(tokenizer.bosId);
    stepIndex.unshift(-1);
    tokenEnds.unshift(0);
  }
  if (options.eos) {
    if (tokenizer.eosId === null) throw new ArgumentError('options.eos', `a tokenizer with an EOS token (${tokenizer.name} has none)`);
    ids.push(tokenizer.eosId);
    stepIndex.push(steps.length - 1);
    tokenEnds.push(text.length);
  }
  const stepTokenRanges = steps.map((): [number, number] => [0, 0]);
  let promptTokens = 0;
  for (let i = 0, s = 0; s < steps.length; s++) {
    while (i < stepIndex.length && stepIndex[i] < s) i++;
    const from = i;
    while (i < stepIndex.length && stepIndex[i] === s) i++;
    stepTokenRanges[s] = [from, i];
  }
  while (promptTokens < stepIndex.length && stepIndex[promptTokens] === -1) promptTokens++;
  const emptySteps = stepTokenRanges.flatMap(([a, b], s) => (a === b ? [s] : []));
  return { ids, stepIndex, tokenEnds, text, promptTokens, stepCharSpans, stepTokenRanges, emptySteps };
}

/**
 * Token ids of `text` and the UTF-16 offset where each token ends. Uses the tokenizer's offsets when it has
 * them; otherwise decodes incrementally from the last point where decoding matched the text exactly (one
 * short decode per token; a full-prefix decode only when the tokenizer's decoding is not additive, e.g. a
 * metaspace decoder that drops a leading space).
 */
export function tokenEndsOf(tokenizer: Tokenizer, text: string): { ids: number[]; ends: number[] } {
  if (tokenizer.encodeWithOffsets) {
    const { ids, offsets } = tokenizer.encodeWithOffsets(text);
    const ends = offsets.map(([, e]) => e);
    for (let i = 1; i < ends.length; i++) if (ends[i] < ends[i - 1]) throw new AlignmentError(ends[i], `${tokenizer.name}: offsets go backwards at token ${i}`);
    if (ends.length > 0 && ends[ends.length - 1] !== text.length) throw new AlignmentError(ends[ends.length - 1], `${tokenizer.name}: offsets do not reach the end of the text`);
    return { ids, ends };
  }
  const ids = tokenizer.encode(text);
  return { ids, ends: tokenEndsByDecoding(tokenizer, text, ids) };
}

/** The decoding half of tokenEndsOf, for `ids` = tokenizer.encode(text) (tokenizers use it as their fallback). */
export function tokenEndsByDecoding(tokenizer: Tokenizer, text: string, ids: readonly number[]): number[] {
  const ends = new Array<number>(ids.length);
  let anchorToken = 0; // decode(ids[0..anchorToken)) === text.slice(0, anchorChar) exactly
  let anchorChar = 0;
  for (let i = 0; i < ids.length; i++) {
    const found = locate(text, decodeFrom(tokenizer, ids, anchorToken, i + 1), anchorChar) ?? locate(text, tokenizer.decode(ids.slice(0, i + 1)), 0);
    if (!found) throw divergence(tokenizer, text, ids, `token ${i} does not decode back to the text`);
    ends[i] = found.end;
    if (found.clean) (anchorToken = i + 1), (anchorChar = found.end);
  }
  if (anchorChar !== text.length) throw divergence(tokenizer, text, ids, 'the tokens do not decode back to the whole text');
  return ends;
}

/** How many tokens before the anchor are decoded with the new ones, then cut off again (see decodeFrom). */
const CONTEXT_TOKENS = 2;

/**
 * decode(ids[from..to)) as it reads inside the longer sequence: decoders are not always additive (a metaspace
 * decoder drops the space of the first token of a sequence; "▁" alone decodes to ""), so we decode with a
 * little left context and cut the context's own text off. Returns null when the context's text is not a
 * prefix (then the caller decodes the whole prefix instead).
 */
function decodeFrom(tokenizer: Tokenizer, ids: readonly number[], from: number, to: number): string | null {
  const start = Math.max(0, from - CONTEXT_TOKENS);
  if (start === from) return tokenizer.decode(ids.slice(from, to));
  const context = tokenizer.decode(ids.slice(start, from));
  const both = tokenizer.decode(ids.slice(start, to));
  return both.startsWith(context) ? both.slice(context.length) : null;
}

function divergence(tokenizer: Tokenizer, text: string, ids: readonly number[], what: string): AlignmentError {
  const decoded = tokenizer.decode(ids);
  let at = 0;
  while (at < text.length && decoded[at] === text[at]) at++;
  return new AlignmentError(at, `${tokenizer.name}: ${what}; decoding diverges from the text at char ${at} (a normalizer such as NFC changed it? normalise the text first)`);
}

const REPLACEMENT = '\uFFFD';

/**
 * Where a decoded piece ends in `text` when placed at `base`. Clean: the piece is exactly the text there.
 * Not clean: the piece ends in replacement characters (an incomplete UTF-8 sequence at its end) and the rest
 * matches: the token ends inside the next character of the text, and we give it that character's end.
 */
function locate(text: string, piece: string | null, base: number): { end: number; clean: boolean } | null {
  if (piece === null) return null;
  if (text.startsWith(piece, base)) return { end: base + piece.length, clean: true };
  let cut = piece.length;
  while (cut > 0 && piece[cut - 1] === REPLACEMENT) cut--;
  if (cut === piece.length || !text.startsWith(piece.slice(0, cut), base)) return null;
  const at = base + cut;
  if (at >= text.length) return null;
  const cp = text.codePointAt(at)!;
  return { end: at + (cp > 0xffff ? 2 : 1), clean: false };
}
