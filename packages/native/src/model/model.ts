/**
 * The engine's Model: a Llama/Qwen2 decoder with forward (token log-probs + per-step sums, activations saved),
 * backward from per-token / per-step upstream gradients, and parameter access. forward, backward and logits run
 * off the event loop and return promises; do not mutate the input arrays while a call is pending.
 */
import { loadBinding } from '../binding.js';
import { ArgumentError, DisposedError } from '../errors.js';
import { type Batch, packBatch, type PackedBatch } from './batch.js';
import { type ModelConfig, type ResolvedModelConfig, resolveConfig } from './config.js';
import { callNative } from './errors.js';

export type FloatArray = Float32Array | Float64Array;

export interface ModelOptions {
  /** Seed of the initialisation. Default: 0. */
  seed?: number;
  /** Element type of parameters and activations. 'float64' exists for exact gradient checks. Default: 'float32'. */
  dtype?: 'float32' | 'float64';
  /**
   * Standard deviation of the HF-style init: every linear weight and the embedding ~ normal(0, initStd), RMSNorm
   * weights = 1, biases = 0 (HF `_init_weights` with initializer_range). Default: 0.02.
   */
  initStd?: number;
}

export interface TensorInfo {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** Weight decay applies (matrices and embeddings; never norms or biases). */
  decay: boolean;
}

export interface ForwardOutput {
  /** log p(target_t) per token (0 where target is -1). */
  tokenLogp: FloatArray;
  /** Sum of tokenLogp over each step's tokens. */
  stepSum: FloatArray;
  /** The batch as scored (targets filled in). */
  batch: PackedBatch;
  /** Identifies this forward: backward() needs the model's latest forward. */
  forwardId: number;
}

export interface BackwardGrads {
  /** d loss / d tokenLogp, length = number of tokens. */
  gradToken?: ArrayLike<number> | FloatArray;
  /** d loss / d stepSum, length = numSteps. */
  gradStep?: ArrayLike<number> | FloatArray;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RawModel = any;

export class Model {
  /** @internal the addon handle (used by Optimizer and KVCache). */
  readonly handle: RawModel;
  readonly config: ResolvedModelConfig;
  readonly dtype: 'float32' | 'float64';
  private _tensors: TensorInfo[] | undefined;
  private _disposed = false;

  private constructor(config: ResolvedModelConfig, opts: ModelOptions) {
    this.config = config;
    this.dtype = opts.dtype ?? 'float32';
    if (this.dtype !== 'float32' && this.dtype !== 'float64') throw new ArgumentError('options.dtype', "'float32' or 'float64'", String(this.dtype));
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ArgumentError('options.seed', 'a non-negative safe integer', String(seed));
    const initStd = opts.initStd ?? 0.02;
    if (!(initStd >= 0)) throw new ArgumentError('options.initStd', 'a number >= 0', String(initStd));
    const Raw = loadBinding().ModelHandle;
    this.handle = callNative(() => new Raw(config, { dtype: this.dtype, seed, initStd }));
  }

  /** A new randomly initialised model (see ModelOptions for the init). */
  static create(config: ModelConfig, opts: ModelOptions = {}): Model {
    return new Model(resolveConfig(config), opts);
  }

  get disposed(): boolean {
    return this._disposed;
  }

  /** @internal */
  assertLive(what: string): void {
    if (this._disposed) throw new DisposedError(`${what}: the model was disposed`);
  }

  /** Every parameter tensor with its HF name, shape and place in the flat buffer. */
  tensors(): TensorInfo[] {
    this.assertLive('model.tensors');
    this._tensors ??= callNative(() => this.handle.tensors() as TensorInfo[]);
    return this._tensors;
  }

  get numParams(): number {
    return this.tensors().reduce((s, t) => s + t.size, 0);
  }

  /** Token log-probs and per-step sums; saves activations for backward(). */
  async forward(batch: Batch): Promise<ForwardOutput> {
    this.assertLive('model.forward');
    const b = packBatch(batch);
    const r = await callNative(() => this.handle.forward(b.tokens, b.targets, b.stepIndex, b.offsets, b.numSteps, b.parents));
    return { tokenLogp: r.tokenLogp, stepSum: r.stepSum, forwardId: r.forwardId, batch: b };
  }

  /** Full logits [tokens, vocabSize] (row-major). Replaces the saved forward (a later backward needs a new forward). */
  async logits(batch: Batch): Promise<FloatArray> {
    this.assertLive('model.logits');
    const b = packBatch(batch);
    const r = await callNative(() => this.handle.logits(b.tokens, b.targets, b.stepIndex, b.offsets, b.numSteps, b.parents));
    return r.logits as FloatArray;
  }

  /**
   * Adds the gradient of L = sum_t gradToken[t] * tokenLogp[t] + sum_s gradStep[s] * stepSum[s] to every
   * parameter's gradient (accumulates until zeroGrad()). `out` must be the model's latest forward.
   */
  async backward(out: ForwardOutput, grads: BackwardGrads): Promise<void> {
    this.assertLive('model.backward');
    const conv = (x: BackwardGrads['gradToken'], name: string, len: number): FloatArray | null => {
      if (x === undefined) return null;
      if (x.length !== len) throw new ArgumentError(name, `length ${len}`, String(x.length));
      if (this.dtype === 'float64') return x instanceof Float64Array ? x : Float64Array.from(x);
      return x instanceof Float32Array ? x : Float32Array.from(x);
    };
    const gt = conv(grads.gradToken, 'gradToken', out.tokenLogp.length);
    const gs = conv(grads.gradStep, 'gradStep', out.stepSum.length);
    if (!gt && !gs) throw new ArgumentError('grads', 'gradToken and/or gradStep');
    await callNative(() => this.handle.backward(out.forwardId, gt, gs));
  }

  /** Sets every gradient to zero (call before accumulating a new batch). */
  zeroGrad(): void {
    this.assertLive('model.zeroGrad');
    callNative(() => this.handle.zeroGrad());
  }

  /** A copy of one parameter tensor (by HF name). */
  getTensor(name: string): FloatArray {
    this.assertLive('model.getTensor');
    return callNative(() => this.handle.getTensor(name, 'param'));
  }

  /** A copy of one parameter's accumulated gradient. */
  getGrad(name: string): FloatArray {
    this.assertLive('model.getGrad');
    return callNative(() => this.handle.getTensor(name, 'grad'));
  }

  /** Overwrites one parameter tensor (values converted to the model's dtype). */
  setTensor(name: string, data: FloatArray): void {
    this.assertLive('model.setTensor');
    callNative(() => this.handle.setTensor(name, data));
  }

  /** Frees native memory now (or when the running job ends). Later calls throw DisposedError. Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
