// Our checkpoints read by an independent numpy transcription of HF's Llama/Qwen2 forward (test/hf_reference.py)
// give the same logits as the engine: checks tensor layout, names, RoPE pairing, GQA head mapping, biases, tying.
// Skipped where python3 with numpy is not available.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { Model, type ModelConfig, saveModel } from '../src/index.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'hf_reference.py');
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const root = mkdtempSync(join(tmpdir(), 'stepwise-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cases: [string, ModelConfig][] = [
  ['qwen2 (GQA, q/k/v bias, untied)', { vocabSize: 37, hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 1e6, qkvBias: true }],
  ['llama (MQA, tied, headDim 12)', { vocabSize: 37, hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 1, headDim: 12, ropeTheta: 500, tieEmbeddings: true }],
];

describe.skipIf(!hasNumpy)('HF reference forward (numpy)', () => {
  for (const [name, cfg] of cases) {
    it(`${name}: same logits`, async () => {
      using m = Model.create(cfg, { seed: 11, initStd: 0.3 });
      const dir = join(root, name.split(' ')[0]!);
      saveModel(m, dir);
      const tokens = [5, 17, 36, 0, 2, 9, 9, 30, 1, 22, 14, 3];
      const r = spawnSync('python3', [script, dir, JSON.stringify(tokens)], { encoding: 'utf8', maxBuffer: 1 << 26 });
      expect(r.status, r.stderr).toBe(0);
      const ref = (JSON.parse(r.stdout) as number[][]).flat();
      const z = await m.logits({ tokens });
      let d = 0;
      let mag = 0;
      ref.forEach((x, i) => {
        d = Math.max(d, Math.abs(x - z[i]!));
        mag = Math.max(mag, Math.abs(x));
      });
      expect(mag).toBeGreaterThan(0.5);
      expect(d).toBeLessThan(2e-5 * Math.max(1, mag));
    });
  }
});
