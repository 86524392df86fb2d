export * from './errors.js';
export { backends, loadBinding, candidatePaths, type BackendsInfo } from './binding.js';
export * from './model/index.js';
