/** @stepwise/recipes: the trainer, the method recipes and the run-directory pipeline (architecture.md §1, §4). */
export * from './errors.js';
export * from './examples.js';
export * from './trainer-config.js';
export * from './trainer.js';
