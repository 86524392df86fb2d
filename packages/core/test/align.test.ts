import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { alignSteps, tokenEndsOf } from '../src/align.js';
import { AlignmentError, ArgumentError, TokenizerError } from '../src/errors.js';
import { HfTokenizer } from '../src/hf-tokenizer.js';
import { CharTokenizer, DEFAULT_CHARSET, type Tokenizer } from '../src/tokenizer.js';
import { qwen3 } from './qwen.js';

const REPL = '\uFFFD';

/** No lone surrogates (they have no UTF-8 encoding, so no tokenizer can round-trip them). */
const wellFormed = (s: string) => !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));

/**
 * Independent oracle for the "token belongs to the step where it ends" rule: decode the whole prefix up to
 * each token (exact, O(n²)), find the character the token ends in, and look its step up in the spans.
 */
function oracleStepIndex(tok: Tokenizer, text: string, ids: number[], spans: [number, number][]): number[] {
  return ids.map((_, i) => {
    const pre = tok.decode(ids.slice(0, i + 1));
    let clean = pre;
    while (clean.endsWith(REPL) && !text.startsWith(clean)) clean = clean.slice(0, -1);
    expect(text.startsWith(clean)).toBe(true);
    // Last character covered: the last complete one, or the one being completed by a partial byte sequence.
    const lastChar = clean.length === pre.length ? clean.length - 1 : clean.length;
    return spans.findIndex(([a, b]) => lastChar >= a && lastChar < b);
  });
}

// Fragments that make BPE merge across boundaries (word pieces without spaces, digits, newlines,
// punctuation runs) and that split characters into several byte-level tokens (CJK, emoji, 𝔹).
const fragments = ['the', 're', ' is', 'x', 'y', ' = ', '3', '42', '\n', '\n\n', 'Step 1: ', 'Step', ':', ' ', '.', '?', '$', '\\frac', '{', '}', 'é', '日本', '語', '🙂', '𝔹', 'ab', 'c'];
const piece = fc.array(fc.constantFrom(...fragments), { maxLength: 6 }).map((a) => a.join(''));
const asciiPiece = fc.string({ unit: fc.constantFrom(...'ab xyz019=+.:\nS'), maxLength: 12 });
const anyPiece = fc.string({ unit: 'binary', maxLength: 8 });

describe('alignSteps on the real Qwen3 BPE tokenizer (joint mode)', () => {
  const tok = qwen3();
  // The same tokenizer without its byte-level offsets, so alignment goes through incremental decoding.
  const decodeOnly: Tokenizer = { name: 'qwen3-decode-only', vocabSize: tok.vocabSize, bosId: null, eosId: tok.eosId, padId: tok.padId, encode: (t) => tok.encode(t), decode: (ids) => tok.decode(ids) };

  test('loads through @huggingface/tokenizers with the config special tokens', () => {
    expect(tok.vocabSize).toBe(151669);
    expect(tok.eosId).toBe(tok.tokenId('<|im_end|>'));
    expect(tok.padId).toBe(tok.tokenId('<|endoftext|>'));
    expect(tok.bosId).toBeNull(); // Qwen has no BOS
    expect(() => alignSteps(tok, 'x', ['y'], { bos: true })).toThrow(ArgumentError);
  });

  test('a token merged across a step boundary goes to the step where it ends', () => {
    const a = alignSteps(tok, 'Q: what?', ['the', 're is', ' 5']);
    const there = a.ids.findIndex((id) => tok.decode([id]) === 'there');
    expect(there).toBeGreaterThan(0);
    expect(a.stepIndex[there]).toBe(1);
    expect(a.emptySteps).toEqual([0]); // "the" is entirely inside the merged token
    // Steps ending without a newline: "x" + "y = 3" merge into "xy".
    const b = alignSteps(tok, 'Solve.', ['we get x', 'y = 3']);
    const xy = b.ids.findIndex((id) => tok.decode([id]).endsWith('xy'));
    expect(xy).toBeGreaterThan(0);
    expect(b.stepIndex[xy]).toBe(1);
    expect(b.stepTokenRanges[0][1]).toBe(xy);
  });

  test('special tokens inside the text (chat template) keep their place', () => {
    const prompt = '<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n';
    const a = alignSteps(tok, prompt, ['Step 1: 2+3=5\n', 'The answer is 5.<|im_end|>']);
    const end = a.ids.lastIndexOf(tok.eosId!);
    expect(end).toBe(a.ids.length - 1);
    expect(a.stepIndex[end]).toBe(1);
    expect(a.ids.slice(0, a.promptTokens)).toEqual(tok.encode(prompt));
    expect(tokenEndsOf(decodeOnly, a.text).ends).toEqual(a.tokenEnds);
  });

  test('a prompt/step merge is attributed to the step, not masked as prompt', () => {
    const a = alignSteps(tok, 'x', ['ab']);
    expect(a.ids).toEqual(tok.encode('xab'));
    expect(a.ids.length).toBe(1);
    expect(a.stepIndex).toEqual([0]);
    expect(a.promptTokens).toBe(0);
  });

  test('property: decode of all ids is the text, stepIndex matches the full-prefix oracle', () => {
    for (const gen of [piece, anyPiece]) {
      fc.assert(
        fc.property(gen, fc.array(gen, { maxLength: 5 }), (prompt, steps) => {
          const text = prompt + steps.join('');
          fc.pre(wellFormed(text) && text.normalize('NFC') === text);
          const a = alignSteps(tok, prompt, steps);
          expect(a.ids).toEqual(tok.encode(text));
          expect(tok.decode(a.ids)).toBe(text);
          // Byte-level offsets and incremental decoding agree.
          expect(tokenEndsOf(decodeOnly, text)).toEqual({ ids: a.ids, ends: a.tokenEnds });
          expect(a.stepIndex).toEqual(oracleStepIndex(tok, text, a.ids, [[0, prompt.length], ...a.stepCharSpans]).map((k) => k - 1));
          for (let i = 1; i < a.ids.length; i++) expect(a.stepIndex[i]).toBeGreaterThanOrEqual(a.stepIndex[i - 1]);
          // Each non-empty step's last token ends inside that step.
          a.stepTokenRanges.forEach(([s, e], k) => {
            if (s === e) return expect(a.emptySteps).toContain(k);
            const [cs, ce] = a.stepCharSpans[k];
            expect(a.tokenEnds[e - 1]).toBeGreaterThan(cs);
            expect(a.tokenEnds[e - 1]).toBeLessThanOrEqual(ce);
          });
        }),
        { numRuns: 60, seed: 4242 },
      );
    }
  });

  test('property (whole-character text): per-step decodes concatenate to the text and cover their steps', () => {
    fc.assert(
      fc.property(asciiPiece, fc.array(asciiPiece, { maxLength: 6 }), (prompt, steps) => {
        const a = alignSteps(tok, prompt, steps, { eos: true });
        const body = a.ids.slice(0, -1); // EOS renders as "<|im_end|>"
        expect(a.stepIndex.at(-1)).toBe(steps.length - 1);
        const groups = [tok.decode(body.slice(0, a.promptTokens)), ...a.stepTokenRanges.map(([s, e]) => tok.decode(body.slice(s, Math.min(e, body.length))))];
        expect(groups.join('')).toBe(a.text);
        a.stepCharSpans.forEach(([cs, ce], k) => {
          if (cs === ce) return;
          // Tokens overlapping the step: from the first that ends after its start to the first that reaches its end.
          const first = a.tokenEnds.findIndex((e) => e > cs);
          const last = a.tokenEnds.findIndex((e) => e >= ce);
          const covered = tok.decode(body.slice(first, last + 1));
          const coverStart = first === 0 ? 0 : a.tokenEnds[first - 1];
          expect(covered.slice(cs - coverStart, ce - coverStart)).toBe(steps[k]);
        });
      }),
      { numRuns: 80, seed: 7 },
    );
  });

  test('separate mode: every step owns exactly the tokens of its own encoding', () => {
    fc.assert(
      fc.property(piece, fc.array(piece, { maxLength: 5 }), (prompt, steps) => {
        const a = alignSteps(tok, prompt, steps, { mode: 'separate' });
        expect(a.ids.slice(0, a.promptTokens)).toEqual(tok.encode(prompt));
        steps.forEach((s, k) => {
          const [from, to] = a.stepTokenRanges[k];
          expect(a.ids.slice(from, to)).toEqual(tok.encode(s));
          expect(a.emptySteps.includes(k)).toBe(s.length === 0);
        });
        expect(tok.decode(a.ids)).toBe(a.text);
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  test('a text the tokenizer normalises (NFC) is refused with the position', () => {
    for (const t of [tok, decodeOnly]) {
      const err = (() => {
        try {
          alignSteps(t, 'Q', ['cafe\u0301']);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(AlignmentError);
      expect((err as AlignmentError).charIndex).toBe(4);
    }
  });

  test('offsets of a character split over several byte-level tokens end at that character', () => {
    const { ids, offsets } = tok.encodeWithOffsets('a𝔹');
    expect(tok.decode(ids)).toBe('a𝔹');
    expect(ids.length).toBeGreaterThan(2); // 𝔹 (4 UTF-8 bytes) is not one Qwen3 token
    expect(offsets.at(-1)).toEqual([3, 3]);
    expect(offsets.slice(1).every(([, e]) => e === 3)).toBe(true);
  });
});

/** A tiny SentencePiece-style (metaspace) BPE tokenizer.json: its decoder drops the leading space. */
const TINY_METASPACE = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{ id: 4, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  post_processor: null,
  decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  model: {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
    vocab: { '▁': 0, a: 1, b: 2, '▁a': 3, ab: 5, '▁ab': 6, '▁b': 7 },
    merges: ['▁ a', 'a b', '▁a b', '▁ b'],
  },
};

describe('HfTokenizer.load', () => {
  test('errors name the missing or broken file; without tokenizer_config.json special ids are null', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepwise-tok-'));
    expect(() => HfTokenizer.load(dir)).toThrow(new RegExp(`${join(dir, 'tokenizer.json')}: cannot read`));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model":');
    expect(() => HfTokenizer.load(join(dir, 'tokenizer.json'))).toThrow(/not valid JSON/);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(TINY_METASPACE));
    const bare = HfTokenizer.load(join(dir, 'tokenizer.json'));
    expect([bare.bosId, bare.eosId, bare.padId, bare.vocabSize]).toEqual([null, null, null, 8]);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"eos_token":"<|nope|>"}');
    expect(() => HfTokenizer.load(dir)).toThrow(/eos_token.*not in the vocabulary/);
  });

  test('a metaspace (non byte-level) tokenizer aligns through context decoding', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepwise-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(TINY_METASPACE));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: { content: '<eos>' } }));
    const tok = HfTokenizer.load(dir);
    expect(tok.eosId).toBe(4);
    // "▁" alone decodes to "" (leading space dropped): only decoding with left context finds its end.
    const a = alignSteps(tok, 'ab', [' ', ' b a', 'b'], { eos: true });
    expect(a.ids).toEqual([6, 0, 7, 6, 4]); // "▁ab" "▁" "▁b" "▁ab"(merged across steps 1|2) "<eos>"
    expect(tok.decode(a.ids)).toBe('ab  b ab<eos>');
    expect(a.tokenEnds).toEqual([2, 3, 5, 8, 8]);
    expect(a.stepIndex).toEqual([-1, 0, 1, 2, 2]);
    expect(a.stepIndex.slice(0, -1)).toEqual(oracleStepIndex(tok, a.text, a.ids.slice(0, -1), [[0, 2], ...a.stepCharSpans]).map((k) => k - 1));
  });
});

describe('CharTokenizer', () => {
  const tok = new CharTokenizer();

  test('documented vocabulary layout', () => {
    expect(tok.vocabSize).toBe(99);
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.encode('\n 0Aa~')).toEqual([3, 4, 20, 37, 69, 98]);
    expect(tok.decode([1, 20, 2, 0])).toBe('0');
    expect(DEFAULT_CHARSET.length).toBe(96);
  });

  test('unknown characters and ids are errors naming the position', () => {
    expect(() => tok.encode('ab×c')).toThrow(/text\[2\].*U\+00D7/);
    expect(() => tok.decode([5, 99])).toThrow(TokenizerError);
    expect(() => new CharTokenizer('aba')).toThrow(/twice/);
  });

  test('property: exact alignment with BOS/EOS, one token per character', () => {
    fc.assert(
      fc.property(asciiPiece, fc.array(asciiPiece, { maxLength: 6 }), (prompt, steps) => {
        const a = alignSteps(tok, prompt, steps, { bos: true, eos: true });
        expect(a.ids.length).toBe(a.text.length + 2);
        expect(a.promptTokens).toBe(prompt.length + 1 + (steps.length === 0 ? 1 : 0)); // EOS without steps stays with the prompt
        steps.forEach((s, k) => {
          const [from, to] = a.stepTokenRanges[k];
          expect(tok.decode(a.ids.slice(from, to))).toBe(s); // EOS decodes to ""
          expect(to - from).toBe(s.length + (k === steps.length - 1 ? 1 : 0));
        });
      }),
      { numRuns: 100, seed: 3 },
    );
  });
});

/** A SentencePiece-like word tokenizer whose decode drops the leading space: decoding is not additive. */
class MetaspaceWords implements Tokenizer {
  readonly name = 'test:metaspace';
  readonly vocabSize = 1000;
  readonly bosId = null;
  readonly eosId = null;
  readonly padId = null;
  private vocab: string[] = [];
  encode(text: string): number[] {
    return (' ' + text).split(/(?= )/).filter(Boolean).map((w) => {
      const t = w.replace(/ /g, '▁');
      let id = this.vocab.indexOf(t);
      if (id === -1) id = this.vocab.push(t) - 1;
      return id;
    });
  }
  decode(ids: readonly number[]): string {
    return ids.map((i) => this.vocab[i]).join('').replace(/▁/g, ' ').replace(/^ /, '');
  }
}

test('non-additive decoders fall back to full-prefix decoding and stay exact', () => {
  const tok = new MetaspaceWords();
  const r = tokenEndsOf(tok, 'one two  three');
  expect(r.ends).toEqual([3, 7, 8, 14]);
  const a = alignSteps(tok, 'Q: one', [' two', ' three']);
  expect(a.stepIndex).toEqual([-1, -1, 0, 1]);
});
