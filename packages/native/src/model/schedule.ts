/** Learning-rate schedules as plain functions of the step (0-based): warmup, then constant / linear / cosine. */
import { ArgumentError } from '../errors.js';

export interface ScheduleConfig {
  /** 'constant' | 'linear' (to minLr at totalSteps) | 'cosine' (half cosine to minLr at totalSteps). */
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup from 0 over this many steps. Default: 0. */
  warmupSteps?: number;
  /** Length of the decay (required for linear / cosine). */
  totalSteps?: number;
  /** Floor after decay. Default: 0. */
  minLr?: number;
}

export type Schedule = (step: number) => number;

export function lrSchedule(c: ScheduleConfig): Schedule {
  const warm = c.warmupSteps ?? 0;
  const minLr = c.minLr ?? 0;
  if (!(c.lr >= 0)) throw new ArgumentError('schedule.lr', 'a number >= 0', String(c.lr));
  if (!(Number.isInteger(warm) && warm >= 0)) throw new ArgumentError('schedule.warmupSteps', 'a non-negative integer', String(warm));
  if (c.kind !== 'constant' && !(Number.isInteger(c.totalSteps) && c.totalSteps! > warm))
    throw new ArgumentError('schedule.totalSteps', 'an integer > warmupSteps', String(c.totalSteps));
  if (!['constant', 'linear', 'cosine'].includes(c.kind)) throw new ArgumentError('schedule.kind', "'constant' | 'linear' | 'cosine'", String(c.kind));
  return (step: number) => {
    if (step < warm) return (c.lr * (step + 1)) / warm;
    if (c.kind === 'constant') return c.lr;
    const progress = Math.min(1, (step - warm) / (c.totalSteps! - warm));
    const f = c.kind === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
    return minLr + (c.lr - minLr) * f;
  };
}
