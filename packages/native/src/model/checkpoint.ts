/**
 * Checkpoints in the HF layout: `config.json` (LlamaForCausalLM / Qwen2ForCausalLM) + `model.safetensors`
 * (or a sharded `model.safetensors.index.json`), and `optimizer.safetensors` for resuming training. Every file is
 * written atomically, so a crash leaves the previous checkpoint intact.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { fromHfConfig, toHfConfig } from './config.js';
import { CheckpointError } from './errors.js';
import { Model, type ModelOptions } from './model.js';
import { Optimizer, type OptimizerStateSlot } from './optimizer.js';
import { SafetensorsReader, type StWriteTensor, writeFileAtomic, writeSafetensors } from './safetensors.js';

export interface SaveOptions {
  /** Stored element type of the weights. Default: 'float32'. */
  dtype?: 'float32' | 'bfloat16';
}

/** Writes config.json and model.safetensors into dir (created if needed). */
export function saveModel(model: Model, dir: string, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? 'float32';
  mkdirSync(dir, { recursive: true });
  const tensors: StWriteTensor[] = model.tensors().map((t) => ({
    name: t.name,
    shape: t.shape,
    data: model.getTensor(t.name),
    dtype: dtype === 'bfloat16' ? 'BF16' : 'F32',
  }));
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const cfg = JSON.stringify(toHfConfig(model.config, dtype), null, 2) + '\n';
  writeFileAtomic(join(dir, 'config.json'), [new TextEncoder().encode(cfg)]);
}

/** Opens an HF Llama / Qwen2 checkpoint directory (single-file or sharded safetensors). */
export function loadModel(dir: string, opts: Pick<ModelOptions, 'dtype'> = {}): Model {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new CheckpointError(`${dir}: no config.json`);
  const config = fromHfConfig(JSON.parse(readFileSync(cfgPath, 'utf8')));
  const index = join(dir, 'model.safetensors.index.json');
  const where = new Map<string, string>();  // tensor -> file
  if (existsSync(index)) {
    const j = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!j.weight_map) throw new CheckpointError(`${index}: no weight_map`);
    for (const [k, f] of Object.entries(j.weight_map)) where.set(k, join(dir, f));
  } else if (existsSync(join(dir, 'model.safetensors'))) {
    const r = new SafetensorsReader(join(dir, 'model.safetensors'));
    for (const k of r.entries.keys()) where.set(k, r.path);
    r.close();
  } else {
    throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json`);
  }
  const model = Model.create(config, { dtype: opts.dtype ?? 'float32', initStd: 0 });
  const readers = new Map<string, SafetensorsReader>();
  try {
    for (const t of model.tensors()) {
      const file = where.get(t.name);
      if (!file) {
        throw new CheckpointError(`${dir}: missing tensor ${t.name}`);
      }
      let r = readers.get(file);
      if (!r) readers.set(file, (r = new SafetensorsReader(file)));
      const { shape, data } = r.read(t.name, model.dtype);
      if (shape.length !== t.shape.length || shape.some((s, i) => s !== t.shape[i]))
        throw new CheckpointError(`${file}: ${t.name} has shape [${shape}], expected [${t.shape}]`);
      model.setTensor(t.name, data);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const r of readers.values()) r.close();
  }
  return model;
}

/** Writes optimizer.safetensors: `{tensor}.{slot}` per state tensor, kind / step / hyper-parameters as metadata. */
export function saveOptimizer(opt: Optimizer, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tensors: StWriteTensor[] = [];
  const f64 = opt.model.dtype === 'float64';
  for (const t of opt.model.tensors())
    for (const slot of opt.stateSlots())
      tensors.push({ name: `${t.name}.${slot}`, shape: t.shape, data: opt.getState(t.name, slot), dtype: f64 ? 'F64' : 'F32' });
  const meta: Record<string, string> = { format: 'stepwise-optimizer', step: String(opt.stepCount), lr: String(opt.lr) };
  for (const [k, v] of Object.entries(opt.config)) meta[k] = String(v);
  writeSafetensors(join(dir, 'optimizer.safetensors'), tensors, meta);
}

/**
 * Re-creates the optimizer saved by saveOptimizer over `model` (same tensors): its kind and hyper-parameters,
 * learning rate, step count and state, so training resumes exactly.
 */
export function loadOptimizer(model: Model, dir: string): Optimizer {
  const r = new SafetensorsReader(join(dir, 'optimizer.safetensors'));
  let opt: Optimizer | undefined;
  try {
    const m = r.metadata;
    if (m.format !== 'stepwise-optimizer') throw new CheckpointError(`${r.path}: not a stepwise optimizer checkpoint`);
    const num = (k: string): number => {
      const v = Number(m[k]);
      if (m[k] === undefined || !Number.isFinite(v)) throw new CheckpointError(`${r.path}: metadata ${k} missing or not a number`);
      return v;
    };
    if (m.kind !== 'adamw' && m.kind !== 'sgd') throw new CheckpointError(`${r.path}: unknown optimizer kind ${m.kind}`);
    opt = new Optimizer(model, {
      kind: m.kind,
      lr: num('lr'),
      beta1: num('beta1'),
      beta2: num('beta2'),
      eps: num('eps'),
      momentum: num('momentum'),
      nesterov: m.nesterov === 'true',
      weightDecay: num('weightDecay'),
      maxGradNorm: num('maxGradNorm'),
    });
    for (const t of model.tensors())
      for (const slot of opt.stateSlots() as OptimizerStateSlot[]) {
        const key = `${t.name}.${slot}`;
        if (!r.entries.has(key)) throw new CheckpointError(`${r.path}: missing ${key}`);
        const { shape, data } = r.read(key, model.dtype);
        if (shape.join() !== t.shape.join()) throw new CheckpointError(`${r.path}: ${key} has shape [${shape}], expected [${t.shape}]`);
        opt.setState(t.name, slot, data);
      }
    opt.stepCount = num('step');
    return opt;
  } catch (e) {
    opt?.dispose();
    throw e;
  } finally {
    r.close();
  }
}
