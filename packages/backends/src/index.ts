export * from './errors.js';
export * from './engine-policy.js';
export * from './train-base.js';
