/** @stepwise/recipes: the trainer, the method recipes and the run-directory pipeline (architecture.md §1, §4). */
export * from './errors.js';
export * from './examples.js';
export * from './trainer-config.js';
export * from './trainer.js';
export * from './config.js';
export * from './rollouts.js';
export * from './data-stages.js';
export * from './samplers.js';
export * from './pair-rules.js';
export * from './prm-values.js';
export * from './eval-report.js';
export * from './pipeline.js';
export * from './all-recipes.js';
export * from './compare-report.js';
export * from './progress.js';
export * from './recipes/index.js';
export * from './cli-args.js';
