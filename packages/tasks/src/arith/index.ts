export * from './spec.js';
export * from './format.js';
export * from './generate.js';
export * from './checker.js';
export * from './corpus.js';
