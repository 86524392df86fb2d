import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  CheckpointError,
  ConfigError,
  Model,
  type ModelConfig,
  Optimizer,
  SafetensorsReader,
  loadModel,
  loadOptimizer,
  maskedCrossEntropy,
  saveModel,
  saveOptimizer,
  toBf16,
  writeSafetensors,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'stepwise-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const qwen: ModelConfig = { vocabSize: 23, hiddenSize: 16, intermediateSize: 20, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 32, ropeTheta: 1e6, qkvBias: true };
const llamaTied: ModelConfig = { vocabSize: 23, hiddenSize: 16, intermediateSize: 20, numLayers: 1, numHeads: 2, tieEmbeddings: true };
const data = { tokens: [1, 4, 9, 16, 2, 22, 0, 7], offsets: [0, 5, 8] };

describe('checkpoints', () => {
  it('save -> load gives the same logits (fp32), HF names and config.json fields', async () => {
    using m = Model.create(qwen, { seed: 2, initStd: 0.2 });
    const dir = join(root, 'qwen');
    saveModel(m, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_key_value_heads: 2, rope_theta: 1e6, tie_word_embeddings: false, vocab_size: 23 });
    const r = new SafetensorsReader(join(dir, 'model.safetensors'));
    expect([...r.entries.keys()]).toContain('model.layers.1.self_attn.k_proj.bias');
    expect(r.entries.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([16, 20]);
    r.close();
    using back = loadModel(dir);
    expect(back.config).toEqual(m.config);
    expect(await back.logits(data)).toEqual(await m.logits(data));
  });

  it('bf16 checkpoints round weights to bf16 and keep logits close; tied llama omits lm_head', async () => {
    using m = Model.create(llamaTied, { seed: 3, initStd: 0.2 });
    const dir = join(root, 'llama-bf16');
    saveModel(m, dir, { dtype: 'bfloat16' });
    const r = new SafetensorsReader(join(dir, 'model.safetensors'));
    expect(r.entries.get('model.embed_tokens.weight')!.dtype).toBe('BF16');
    expect(r.entries.has('lm_head.weight')).toBe(false);
    r.close();
    using back = loadModel(dir);
    const w = m.getTensor('model.layers.0.self_attn.o_proj.weight');
    const bits = toBf16(w);
    const wb = back.getTensor('model.layers.0.self_attn.o_proj.weight');
    wb.forEach((x, i) => expect(x).toBe(new Float32Array(new Uint32Array([bits[i]! << 16]).buffer)[0]));
    const [a, b] = [await m.logits(data), await back.logits(data)];
    let d = 0;
    a.forEach((x, i) => (d = Math.max(d, Math.abs(x - b[i]!))));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.05);
  });

  it('loads a sharded HF checkpoint (model.safetensors.index.json), ignoring extra tensors', async () => {
    using m = Model.create(qwen, { seed: 4, initStd: 0.2 });
    const dir = join(root, 'sharded');
    saveModel(m, dir);
    rmSync(join(dir, 'model.safetensors'));
    const ts = m.tensors();
    const half = Math.floor(ts.length / 2);
    const shards = [ts.slice(0, half), ts.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, k) => {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      const tensors = list.map((t) => ({ name: t.name, shape: t.shape, data: m.getTensor(t.name) }));
      if (k === 1) tensors.push({ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [2], data: Float32Array.of(1, 2) });
      writeSafetensors(join(dir, file), tensors, { format: 'pt' });
      for (const t of tensors) weightMap[t.name] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    using back = loadModel(dir);
    expect(await back.logits(data)).toEqual(await m.logits(data));
  });

  it('rejects missing tensors, wrong shapes and unsupported HF features with typed errors', () => {
    const dir = join(root, 'bad');
    using m = Model.create(qwen, { seed: 5 });
    saveModel(m, dir);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 21 }));
    expect(() => loadModel(dir)).toThrow(CheckpointError);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, rope_scaling: { type: 'yarn' } }));
    expect(() => loadModel(dir)).toThrow(ConfigError);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gpt2' }));
    expect(() => loadModel(dir)).toThrow(/model_type/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
    expect(() => loadModel(dir)).toThrow(/missing tensor model\.layers\.2/);
  });

  it('optimizer state round-trips: resumed training continues exactly', async () => {
    const dir = join(root, 'resume');
    const cfg: ModelConfig = { ...qwen, numLayers: 1 };
    const stepOnce = async (m: Model, o: Optimizer) => {
      m.zeroGrad();
      const out = await m.forward(data);
      await m.backward(out, maskedCrossEntropy(out));
      await o.step();
    };
    using a = Model.create(cfg, { seed: 6, initStd: 0.2 });
    using oa = new Optimizer(a, { lr: 0.01, weightDecay: 0.05 });
    await stepOnce(a, oa);
    await stepOnce(a, oa);
    saveModel(a, dir);
    saveOptimizer(oa, dir);
    using b = loadModel(dir);
    using ob = loadOptimizer(b, dir);
    expect(ob.stepCount).toBe(2);
    expect(ob.lr).toBe(0.01);
    expect(ob.config.weightDecay).toBe(0.05);
    await stepOnce(a, oa);
    await stepOnce(b, ob);
    expect(b.getTensor('model.layers.0.mlp.gate_proj.weight')).toEqual(a.getTensor('model.layers.0.mlp.gate_proj.weight'));
    using other = Model.create({ ...cfg, intermediateSize: 8 });
    expect(() => loadOptimizer(other, dir)).toThrow(CheckpointError);
  });
});
