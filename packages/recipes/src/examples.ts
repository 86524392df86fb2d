/**
 * What the trainer trains on, in the exact text layout the policy samples in: [BOS] question "\n" step "\n"
 * step "\n" … (tasks' promptText + solutionText, EnginePolicy's encodeState). Pairs stored in pairs.jsonl keep
 * bare step texts (TRL-like fields); `forTraining` adds the separators so a trained token is the same token the
 * sampler produced, separator included (the sampler samples it too).
 */
import { alignSteps, type PreferencePair, type Tokenizer } from '@stepwise/core';
import { promptText, STEP_SEPARATOR } from '@stepwise/tasks';

/** An SFT example: a prompt and the completion steps to learn (the prompt is masked). */
export interface SftExample {
  problemId: string;
  prompt: string;
  steps: string[];
}

const sep = (s: string): string => s + STEP_SEPARATOR;

/** The pair as the model reads it: prompt = question + "\n", every step followed by "\n". */
export function forTraining(pair: PreferencePair): PreferencePair {
  if (pair.schema === 'stepwise.step-pair@1') {
    return { ...pair, prompt: promptText(pair.prompt), prefixSteps: pair.prefixSteps.map(sep), chosen: sep(pair.chosen), rejected: sep(pair.rejected) };
  }
  return { ...pair, prompt: promptText(pair.prompt), chosenSteps: pair.chosenSteps.map(sep), rejectedSteps: pair.rejectedSteps.map(sep) };
}

/** SFT on the chosen side of sequence pairs (SPPD's SFT on τ⁺). Step pairs have no whole solution and are skipped. */
export function sftExamplesFromPairs(pairs: readonly PreferencePair[]): SftExample[] {
  const out: SftExample[] = [];
  for (const p of pairs) if (p.schema === 'stepwise.sequence-pair@1') out.push({ problemId: p.problemId, prompt: p.prompt, steps: p.chosenSteps });
  return out;
}

/** Packed token ids + per-position label mask (1 = the target is a completion token or the final EOS). */
export function packSft(tokenizer: Tokenizer, examples: readonly SftExample[]): { tokens: Int32Array; offsets: Int32Array; mask: Uint8Array } {
  const seqs = examples.map((e) => {
    const a = alignSteps(tokenizer, promptText(e.prompt), e.steps.map(sep), { bos: tokenizer.bosId !== null, eos: tokenizer.eosId !== null });
    // Position x predicts token x + 1: label it when that token belongs to a step (EOS is attributed to the last).
    const mask = new Uint8Array(a.ids.length);
    for (let x = 0; x + 1 < a.ids.length; x++) mask[x] = a.stepIndex[x + 1] >= 0 ? 1 : 0;
    return { ids: a.ids, mask };
  });
  const offsets = new Int32Array(seqs.length + 1);
  seqs.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.ids.length));
  const tokens = new Int32Array(offsets[seqs.length]);
  const mask = new Uint8Array(tokens.length);
  seqs.forEach((s, i) => {
    tokens.set(s.ids, offsets[i]);
    mask.set(s.mask, offsets[i]);
  });
  return { tokens, offsets, mask };
}
