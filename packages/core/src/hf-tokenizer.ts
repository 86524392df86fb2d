/**
 * Adapter from a Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`) on local disk to the
 * Tokenizer interface, through @huggingface/tokenizers (pure JS: BPE/WordPiece/Unigram, byte-level and
 * metaspace pre-tokenizers). Files are read from disk only; nothing is fetched.
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tokenEndsByDecoding } from './align.js';
import { TokenizerError } from './errors.js';
import type { Tokenizer } from './tokenizer.js';

export interface HfTokenizerFiles {
  /** Path to tokenizer.json, or to a folder holding tokenizer.json (and tokenizer_config.json). */
  path: string;
  /** Name recorded in manifests; defaults to the folder name. */
  name?: string;
}

type SpecialSpec = string | { content?: string } | null | undefined;

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;

  /** True when the decoder is byte-level (GPT-2/Llama-3/Qwen): offsets then come from token bytes directly. */
  private readonly byteLevel: boolean;
  private readonly addedTokens: Map<number, string>;

  private constructor(
    readonly name: string,
    private readonly impl: HfTokenizerImpl,
    config: Record<string, unknown>,
    tokenizerJson: Record<string, unknown>,
  ) {
    this.byteLevel = (tokenizerJson.decoder as { type?: string } | null)?.type === 'ByteLevel';
    this.addedTokens = new Map([...impl.get_added_tokens_decoder()].map(([id, t]) => [id, t.content]));
    let maxId = -1;
    for (const id of impl.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosId = this.specialId(config.bos_token as SpecialSpec, 'bos_token');
    this.eosId = this.specialId(config.eos_token as SpecialSpec, 'eos_token');
    this.padId = this.specialId(config.pad_token as SpecialSpec, 'pad_token');
  }

  /** Loads a tokenizer from local files; throws TokenizerError naming the file that is missing or bad. */
  static load(files: HfTokenizerFiles | string): HfTokenizer {
    const spec = typeof files === 'string' ? { path: files } : files;
    let jsonPath = spec.path;
    if (existsSync(jsonPath) && statSync(jsonPath).isDirectory()) jsonPath = join(jsonPath, 'tokenizer.json');
    const dir = dirname(jsonPath);
    const tokenizerJson = readJson(jsonPath, true)!;
    // tokenizer_config.json names BOS/EOS/PAD; without it the ids are null (the model has none or we can't tell).
    const config = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
    let impl: HfTokenizerImpl;
    try {
      impl = new HfTokenizerImpl(tokenizerJson, config);
    } catch (err) {
      throw new TokenizerError(`${jsonPath}: @huggingface/tokenizers cannot build this tokenizer (${(err as Error).message})`, { cause: err });
    }
    return new HfTokenizer(spec.name ?? `hf:${basename(dir)}`, impl, config, tokenizerJson);
  }

  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    // Keep special tokens and skip the "clean up spaces" pass: both would break decode(encode(t)) === t.
    return this.impl.decode(ids as number[], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /**
   * Ids plus the [start, end) UTF-16 span of each token. Byte-level vocabularies: each token's bytes are read
   * off its vocabulary string (GPT-2 byte↔unicode table), and a token that ends inside a multi-byte character
   * ends at that character's end (the rule of ./align.ts). If the bytes do not spell the text (a normalizer
   * changed it) or the decoder is not byte-level, falls back to incremental decoding, which reports where
   * the text diverged.
   */
  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] } {
    const { ids, tokens } = this.impl.encode(text, { add_special_tokens: false });
    const ends = this.byteLevel ? this.byteLevelEnds(text, ids, tokens) : null;
    const finalEnds = ends ?? tokenEndsByDecoding(this, text, ids);
    return { ids, offsets: finalEnds.map((e, i): [number, number] => [i === 0 ? 0 : finalEnds[i - 1], e]) };
  }

  private byteLevelEnds(text: string, ids: number[], tokens: string[]): number[] | null {
    const bytes = Buffer.from(text, 'utf8');
    // charEnd[j] = UTF-16 end of the character that byte j belongs to.
    const charEnd = new Int32Array(bytes.length);
    let b = 0;
    let u = 0;
    for (const ch of text) {
      const n = Buffer.byteLength(ch, 'utf8');
      u += ch.length;
      charEnd.fill(u, b, b + n);
      b += n;
    }
    const ends: number[] = [];
    let pos = 0;
    for (let i = 0; i < ids.length; i++) {
      const added = this.addedTokens.get(ids[i]);
      if (added !== undefined) {
        const raw = Buffer.from(added, 'utf8');
        if (!raw.equals(bytes.subarray(pos, pos + raw.length))) return null;
        pos += raw.length;
      } else {
        for (const ch of tokens[i]) {
          const byte = UNICODE_TO_BYTE.get(ch);
          if (byte === undefined || bytes[pos] !== byte) return null;
          pos++;
        }
      }
      ends.push(pos === 0 ? 0 : charEnd[pos - 1]);
    }
    return pos === bytes.length ? ends : null;
  }

  /** The token's string in the vocabulary (e.g. "Ġworld"), for debugging and reports. */
  tokenString(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  tokenId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  private specialId(spec: SpecialSpec, field: string): number | null {
    const content = typeof spec === 'string' ? spec : spec?.content;
    if (content == null) return null;
    const id = this.impl.token_to_id(content);
    if (id === undefined) throw new TokenizerError(`tokenizer_config.json ${field}: ${JSON.stringify(content)} is not in the vocabulary`);
    return id;
  }
}

function readJson(path: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TokenizerError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new TokenizerError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/**
 * GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes are mapped
 * to U+0100 upwards, so that every byte has a visible, non-whitespace character in vocabulary strings.
 */
const UNICODE_TO_BYTE: Map<string, number> = (() => {
  const map = new Map<string, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCharCode(printable(b) ? b : 256 + extra++), b);
  return map;
})();
