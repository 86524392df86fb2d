export * from './types.js';
export * from './trl.js';
export * from './step-dpo.js';
export * from './full-step-dpo.js';
export * from './prm800k.js';
export * from './math-shepherd.js';
export * from './oracle-labels.js';
