/**
 * The tokenizer interface every policy and trainer uses, and the character-level tokenizer of the embedded
 * task. `encode` never adds special tokens (callers add BOS/EOS where a format wants them, methods.md §1.2)
 * and `decode(encode(t)) === t` for every text the tokenizer accepts.
 */
import { TokenizerError } from './errors.js';

export interface Tokenizer {
  /** Identifies the vocabulary (recorded in manifests and checkpoints). */
  readonly name: string;
  /** One more than the largest token id. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Token ids of `text`, without special tokens added. */
  encode(text: string): number[];
  /** Text of `ids`; special tokens that have a text form are kept, so decoding round-trips. */
  decode(ids: readonly number[]): string;
  /**
   * Optional: the same ids as encode(text) plus, per token, the [start, end) UTF-16 offsets it covers in
   * `text`. Tokenizers without it are aligned by incremental decoding (./align.ts).
   */
  encodeWithOffsets?(text: string): { ids: number[]; offsets: [number, number][] };
}

/**
 * The default character set of CharTokenizer: newline plus printable ASCII (space … "~"). Enough for the
 * embedded arithmetic task ("Step 2: 17 * 3 = 51\n", "The answer is 51") and for LaTeX-free GSM8K text.
 */
export const DEFAULT_CHARSET = `\n${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')}`;

/** Fixed ids of the special tokens of CharTokenizer; characters take ids 3, 4, … in charset order. */
export const CHAR_SPECIAL = { PAD: 0, BOS: 1, EOS: 2 } as const;

/**
 * One token per Unicode code point of a fixed character set, plus PAD (0), BOS (1) and EOS (2).
 * With DEFAULT_CHARSET: "\n" = 3, " " = 4, "!" = 5, …, "0" = 20, …, "A" = 37, …, "a" = 69, …, "~" = 98;
 * vocabSize 99. Special tokens decode to the empty string (they have no text form, and generation stops
 * at EOS anyway); a character outside the set is an error, never silently mapped to a placeholder, so a
 * dataset the model cannot represent is found at tokenization, not as wrong answers later.
 */
export class CharTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosId = CHAR_SPECIAL.BOS;
  readonly eosId = CHAR_SPECIAL.EOS;
  readonly padId = CHAR_SPECIAL.PAD;
  private readonly toId = new Map<string, number>();
  private readonly toChar: string[] = ['', '', ''];

  constructor(readonly charset: string = DEFAULT_CHARSET) {
    for (const ch of charset) {
      if (this.toId.has(ch)) throw new TokenizerError(`charset: character ${JSON.stringify(ch)} appears twice`);
      this.toId.set(ch, this.toChar.length);
      this.toChar.push(ch);
    }
    if (this.toId.size === 0) throw new TokenizerError('charset: must hold at least one character');
    this.vocabSize = this.toChar.length;
    this.name = charset === DEFAULT_CHARSET ? 'char:ascii-v1' : `char:custom-${this.vocabSize}`;
  }

  encode(text: string): number[] {
    return this.encodeWithOffsets(text).ids;
  }

  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] } {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    let pos = 0;
    for (const ch of text) {
      const id = this.toId.get(ch);
      if (id === undefined) {
        throw new TokenizerError(`text[${pos}]: character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) is not in the ${this.name} character set`);
      }
      ids.push(id);
      offsets.push([pos, pos + ch.length]);
      pos += ch.length;
    }
    return { ids, offsets };
  }

  decode(ids: readonly number[]): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`ids[${i}]: ${id} is not a token id of ${this.name} (vocabSize ${this.vocabSize})`);
      }
      out += this.toChar[id];
    }
    return out;
  }
}
