export * from './tree-view.js';
export * from './step-pairs.js';
export * from './sequence-pairs.js';
export * from './dedup.js';
