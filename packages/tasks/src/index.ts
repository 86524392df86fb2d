export * from './errors.js';
export * from './arith/index.js';
