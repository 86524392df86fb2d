export * from './gsm8k.js';
export * from './math500.js';
