export * from './errors.js';
export * from './encode.js';
export * from './loss.js';
export * from './auc.js';
export * from './labels.js';
export * from './scorer.js';
export * from './train.js';
export * from './evaluate.js';
