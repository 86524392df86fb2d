export * from './kernels.js';
export * from './common.js';
export * from './sft.js';
export * from './dpo.js';
export * from './full-step-dpo.js';
export * from './svpo.js';
