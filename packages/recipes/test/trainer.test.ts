import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharTokenizer, type StepPair } from '@stepwise/core';
import { loadModel, Model, saveModel } from '@stepwise/native';
import { trainProblem } from '@stepwise/tasks';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTrainerConfig, stepExamples, train, type SftExample, type TrainerConfig } from '../src/index.js';

const tok = new CharTokenizer();
const root = mkdtempSync(join(tmpdir(), 'stepwise-trainer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tiny random model saved as the stage's starting checkpoint. */
function initCheckpoint(name: string): string {
  const m = Model.create({ vocabSize: 99, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, maxSeqLen: 160, tieEmbeddings: true }, { seed: 7 });
  const dir = join(root, name);
  saveModel(m, dir);
  m.dispose();
  return dir;
}

function pairs(n: number): StepPair[] {
  return Array.from({ length: n }, (_, i) => {
    const p = trainProblem(1, 3, i);
    const good = p.solutionSteps![0];
    return {
      schema: 'stepwise.step-pair@1', problemId: p.id, prompt: p.question, prefixSteps: [],
      chosen: good, rejected: good.replace(/\d(?!.*\d)/, (d) => String((Number(d) + 1) % 10)),
      chosenValue: 0.9, rejectedValue: 0.1 + (i % 3) * 0.1, rule: 'test',
    };
  });
}

const sft = (n: number): SftExample[] => Array.from({ length: n }, (_, i) => {
  const p = trainProblem(1, 4, i);
  return { problemId: p.id, prompt: p.question, steps: p.solutionSteps! };
});

async function run(name: string, data: StepPair[] | SftExample[], config: TrainerConfig, stops: number[]) {
  const init = initCheckpoint(`${name}-init`);
  const dir = join(root, name);
  const metricsPath = join(root, `${name}-metrics.jsonl`);
  for (const stopAfterSteps of [...stops, undefined]) {
    const r = await train({ initDir: init, tokenizer: tok, data, config, dir, metricsPath, stage: 'test', stopAfterSteps });
    expect(r.finished).toBe(stopAfterSteps === undefined);
  }
  const m = loadModel(dir);
  const weights = m.tensors().map((t) => Array.from(m.getTensor(t.name)));
  m.dispose();
  const rows = readFileSync(metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const r of rows) delete r.tokensPerS;
  return { weights, rows };
}

describe('trainer', () => {
  it('orders every example exactly once per epoch, differently per epoch', () => {
    const c = resolveTrainerConfig({ batchSize: 3, gradAccum: 2, epochs: 2 });
    const seen = Array.from({ length: 4 }, (_, s) => stepExamples(10, c, s).flat());
    const flat = seen.flat();
    expect(flat).toHaveLength(20);
    expect([...flat.slice(0, 10)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...flat.slice(10)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(flat.slice(0, 10)).not.toEqual(flat.slice(10));
  });

  for (const objective of ['sppd', 'sft'] as const) {
    it(`${objective}: stopped after k steps and resumed ends with the same weights and metrics`, async () => {
      const data = objective === 'sft' ? sft(12) : pairs(12);
      const config = resolveTrainerConfig({ objective, batchSize: 3, gradAccum: 2, epochs: 2, lr: 3e-3, checkpointEvery: 2, optimizer: 'adamw' });
      const whole = await run(`${objective}-whole`, data, config, []);
      const resumed = await run(`${objective}-resumed`, data, config, [3, 1]);
      expect(whole.rows.map((r) => r.step)).toEqual([1, 2, 3, 4]);
      expect(resumed.rows).toEqual(whole.rows);
      expect(resumed.weights).toEqual(whole.weights);
      // Training moved the weights and (preference) learned the pairs.
      const init = loadModel(initCheckpoint('check'));
      expect(Array.from(init.getTensor('model.embed_tokens.weight'))).not.toEqual(whole.weights[0]);
      init.dispose();
      if (objective === 'sppd') expect(whole.rows.at(-1).meanMargin).toBeGreaterThan(0.5);
    }, 120_000);
  }

  it('chosenNll > 0 adds the chosen side\'s NLL to the logged loss of the same first step', async () => {
    const data = pairs(6);
    const base = resolveTrainerConfig({ objective: 'sppd', batchSize: 6, epochs: 1, lr: 1e-3 });
    const plain = await run('nll-0', data, base, []);
    const nll = await run('nll-1', data, { ...base, chosenNll: 0.5 }, []);
    expect(plain.rows[0].chosenNll).toBeUndefined();
    const extra = nll.rows[0].chosenNll;
    expect(extra).toBeGreaterThan(0);
    // Same weights before step 1, so the pair loss is the same and the difference is exactly w · chosenNll.
    expect(nll.rows[0].loss - plain.rows[0].loss).toBeCloseTo(0.5 * extra, 5);
  }, 120_000);

  it('refuses a config field outside its domain, naming it', () => {
    expect(() => resolveTrainerConfig({ beta: -1 })).toThrow(/train\.beta/);
    expect(() => resolveTrainerConfig({ objective: 'ppo' as never })).toThrow(/train\.objective/);
    expect(() => resolveTrainerConfig({ lrr: 1 } as never)).toThrow(/train\.lrr/);
  });
});
