/**
 * Adapter from a Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`) on local disk to the
 * Tokenizer interface, through @huggingface/tokenizers (pure JS: BPE/WordPiece/Unigram, byte-level and
 * metaspace pre-tokenizers). Files are read from disk only; nothing is fetched.
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

  private constructor(
    readonly name: string,
    private readonly impl: HfTokenizerImpl,
    config: Record<string, unknown>,
  ) {
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
    return new HfTokenizer(spec.name ?? `hf:${basename(dir)}`, impl, config);
  }

  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    // Keep special tokens and skip the "clean up spaces" pass: both would break decode(encode(t)) === t.
    return this.impl.decode(ids as number[], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
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
