/**
 * AdamW and SGD over a model's parameters. Weight decay applies to matrices and embeddings only, never to
 * RMSNorm weights or biases. Gradients accumulate across backward() calls until zeroGrad(); step() clips them
 * to maxGradNorm first (in place) and updates with the current learning rate (set each step from TS, e.g. by a
 * schedule in ./schedule.ts).
 */
import { loadBinding } from '../binding.js';
import { ArgumentError, DisposedError } from '../errors.js';
import { callNative } from './errors.js';
import type { FloatArray, Model } from './model.js';

export interface OptimizerConfig {
  /** Default: 'adamw'. */
  kind?: 'adamw' | 'sgd';
  /** Learning rate until setLr() / step(lr). Default: 1e-3. */
  lr?: number;
  /** AdamW betas and epsilon. Defaults: 0.9, 0.999, 1e-8 (torch.optim.AdamW). */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** SGD momentum (0 = none) and Nesterov. Defaults: 0, false. */
  momentum?: number;
  nesterov?: boolean;
  /** AdamW: decoupled (p -= lr * wd * p); SGD: L2 added to the gradient (torch.optim.SGD). Default: 0. */
  weightDecay?: number;
  /** Clip the global L2 gradient norm to this before each step; 0 = no clipping. Default: 0. */
  maxGradNorm?: number;
}

export interface StepInfo {
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** True when the norm was NaN/Inf: nothing was updated (the step count does not advance). */
  skipped: boolean;
  /** Completed optimizer steps. */
  step: number;
}

export type OptimizerStateSlot = 'exp_avg' | 'exp_avg_sq' | 'momentum_buffer';

export class Optimizer {
  /** @internal */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly handle: any;
  readonly kind: 'adamw' | 'sgd';
  readonly config: Readonly<Required<OptimizerConfig>>;
  private _lr: number;
  private _disposed = false;

  constructor(
    readonly model: Model,
    config: OptimizerConfig = {},
  ) {
    model.assertLive('new Optimizer');
    this.config = {
      kind: config.kind ?? 'adamw',
      lr: config.lr ?? 1e-3,
      beta1: config.beta1 ?? 0.9,
      beta2: config.beta2 ?? 0.999,
      eps: config.eps ?? 1e-8,
      momentum: config.momentum ?? 0,
      nesterov: config.nesterov ?? false,
      weightDecay: config.weightDecay ?? 0,
      maxGradNorm: config.maxGradNorm ?? 0,
    };
    this.kind = this.config.kind;
    this._lr = 0;
    this.setLr(this.config.lr);
    const Raw = loadBinding().OptimizerHandle;
    this.handle = callNative(() => new Raw(model.handle, this.config));
  }

  get lr(): number {
    return this._lr;
  }

  /** Sets the learning rate used by the next step() (schedules call this every step). */
  setLr(lr: number): void {
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) throw new ArgumentError('lr', 'a finite number >= 0', String(lr));
    this._lr = lr;
  }

  private live(what: string): void {
    if (this._disposed) throw new DisposedError(`${what}: the optimizer was disposed`);
    this.model.assertLive(what);
  }

  /** One update of every parameter from the accumulated gradients (off the event loop). */
  async step(lr?: number): Promise<StepInfo> {
    this.live('optimizer.step');
    if (lr !== undefined) this.setLr(lr);
    return callNative(() => this.handle.step(this._lr)) as Promise<StepInfo>;
  }

  /** Zeroes the model's gradients (same as model.zeroGrad()). */
  zeroGrad(): void {
    this.live('optimizer.zeroGrad');
    this.model.zeroGrad();
  }

  /** Global L2 norm of the current gradients. */
  gradNorm(): number {
    this.live('optimizer.gradNorm');
    return callNative(() => this.handle.gradNorm()) as number;
  }

  get stepCount(): number {
    this.live('optimizer.stepCount');
    return this.handle.stepCount() as number;
  }

  set stepCount(t: number) {
    this.live('optimizer.stepCount');
    callNative(() => this.handle.setStepCount(t));
  }

  /** The state slots this optimizer keeps per tensor (for checkpoints). */
  stateSlots(): OptimizerStateSlot[] {
    if (this.kind === 'adamw') return ['exp_avg', 'exp_avg_sq'];
    return this.config.momentum > 0 ? ['momentum_buffer'] : [];
  }

  private slotIndex(slot: OptimizerStateSlot): number {
    if (!this.stateSlots().includes(slot)) throw new ArgumentError('slot', this.stateSlots().join(' | ') || 'none (stateless)', slot);
    return slot === 'exp_avg_sq' ? 1 : 0;
  }

  getState(name: string, slot: OptimizerStateSlot): FloatArray {
    this.live('optimizer.getState');
    return callNative(() => this.handle.getState(name, this.slotIndex(slot))) as FloatArray;
  }

  setState(name: string, slot: OptimizerStateSlot, data: FloatArray): void {
    this.live('optimizer.setState');
    callNative(() => this.handle.setState(name, this.slotIndex(slot), data));
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
