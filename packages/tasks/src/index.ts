export * from './errors.js';
export * from './arith/index.js';
export * from './json-input.js';
export * from './datasets/index.js';
export * from './convert/index.js';
