/**
 * Float64 JavaScript references of every kernel, forward and backward: the readable definition of the
 * outputs and the oracle the tests compare the native kernels against.
 */
export * from './step-logprob.js';
export * from './hidden.js';
export * from './reward-weights.js';
export * from './dpo.js';
