/** @stepwise/train: losses, packed pair batches and the reference log-prob cache (architecture.md §3–§4). */
export * from './errors.js';
export * from './losses/index.js';
export * from './batch.js';
export * from './ref-cache.js';
export * from './step.js';
export * from './shared-prefix.js';
export * from './chosen-nll.js';
