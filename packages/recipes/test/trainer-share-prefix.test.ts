// The trainer's sharePrefix option (default on): step pairs whose prefix is prompt + earlier steps train to the
// same numbers as with both full sequences computed (reference log-probs, per-step losses, gradient norms and
// reward metrics to float32 rounding), and the reference cache keys the two packings apart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharTokenizer, type StepPair } from '@stepwise/core';
import { Model, saveModel } from '@stepwise/native';
import { promptText, STEP_SEPARATOR, trainProblem } from '@stepwise/tasks';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTrainerConfig, train } from '../src/index.js';

const tok = new CharTokenizer();
const root = mkdtempSync(join(tmpdir(), 'stepwise-share-prefix-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Step pairs at step k of level-3 problems: prefix = prompt + the first k correct steps, rejected = a slip. */
function stepPairs(n: number): StepPair[] {
  return Array.from({ length: n }, (_, i) => {
    const p = trainProblem(3, 5, i);
    const steps = p.solutionSteps!;
    const k = i % Math.max(1, steps.length - 1);
    const good = steps[k];
    return {
      schema: 'stepwise.step-pair@1', problemId: p.id, prompt: p.question, prefixSteps: steps.slice(0, k),
      chosen: good, rejected: good.replace(/\d(?!.*\d)/, (d) => String((Number(d) + 3) % 10)),
      chosenValue: 0.8, rejectedValue: 0.2 + (i % 4) * 0.1, rule: 'test',
    };
  });
}

describe('trainer sharePrefix', () => {
  it('defaults to on and trains step pairs to the same numbers as the plain packing', async () => {
    expect(resolveTrainerConfig({}).sharePrefix).toBe(true);
    expect(() => resolveTrainerConfig({ sharePrefix: 1 as never })).toThrow(/train\.sharePrefix/);
    const m = Model.create({ vocabSize: 99, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 320 }, { seed: 3 });
    const init = join(root, 'init');
    saveModel(m, init);
    m.dispose();
    const data = stepPairs(8);
    const runs = [];
    for (const sharePrefix of [true, false]) {
      const config = resolveTrainerConfig({ objective: 'sppd', batchSize: 4, epochs: 1, gradAccum: 1, lr: 2e-3, checkpointEvery: 0, sharePrefix });
      const name = `share-${sharePrefix}`;
      const metricsPath = join(root, `${name}.jsonl`);
      const r = await train({ initDir: init, tokenizer: tok, data, config, dir: join(root, name), metricsPath, stage: 'test' });
      expect(r.finished).toBe(true);
      const rows = readFileSync(metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const refs = readFileSync(join(root, name, 'ref-logps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      runs.push({ rows, refs });
    }
    const [on, off] = runs;
    expect(on.rows).toHaveLength(2);
    on.rows.forEach((row, s) => {
      for (const k of ['loss', 'gradNorm', 'rewardAccuracy', 'chosenReward', 'rejectedReward', 'rewardMargin', 'tokens', 'examples'])
        expect(Math.abs(row[k] - off.rows[s][k]), `step ${s + 1} ${k}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(off.rows[s][k])));
    });
    // The shared path really computed less: each pair's prompt + earlier steps once instead of twice.
    // BOS + prompt + earlier steps are M tokens (one per character); M − 1 rows are shared (the last one predicts
    // the first completion token, which differs), so each pair computes M − 1 fewer rows.
    const saved = data.reduce((a, p) => a + promptText(p.prompt).length + p.prefixSteps.reduce((b, st) => b + st.length + STEP_SEPARATOR.length, 0), 0);
    const sum = (rows: { forwardTokens: number }[]) => rows.reduce((a, r) => a + r.forwardTokens, 0);
    on.rows.forEach((row, s) => expect(row.forwardTokens).toBeLessThan(off.rows[s].forwardTokens));
    expect(sum(off.rows) - sum(on.rows)).toBe(saved);
    // Same pairs, same reference numbers, different cache keys (the packings agree only to float32 rounding).
    expect(on.refs).toHaveLength(data.length);
    const flat = (rs: { sums: number[] }[]) => rs.flatMap((r) => r.sums);
    const a = flat(on.refs), b = flat(off.refs);
    a.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(2e-4));
    expect(on.refs.map((r) => r.key)).not.toEqual(off.refs.map((r) => r.key));
  }, 120_000);
});
