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
import type { Optimizer, OptimizerStateSlot } from './optimizer.js';
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

/** Restores state and step count saved by saveOptimizer into an optimizer of the same kind over the same model. */
export function loadOptimizer(opt: Optimizer, dir: string): void {
  const r = new SafetensorsReader(join(dir, 'optimizer.safetensors'));
  try {
    if (r.metadata.kind !== opt.kind) throw new CheckpointError(`${r.path}: saved by a '${r.metadata.kind}' optimizer, this one is '${opt.kind}'`);
    for (const t of opt.model.tensors())
      for (const slot of opt.stateSlots() as OptimizerStateSlot[]) opt.setState(t.name, slot, r.read(`${t.name}.${slot}`, opt.model.dtype).data);
    opt.stepCount = Number(r.metadata.step ?? 0);
    if (r.metadata.lr !== undefined) opt.setLr(Number(r.metadata.lr));
  } finally {
    r.close();
  }
}
