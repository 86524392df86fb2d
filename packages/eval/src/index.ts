export * from './stats.js';
export * from './evaluate.js';
export * from './report.js';
