/**
 * The subcommands of `stepwise`. Each lives in its own module exporting `help` and `run(args)`; modules are
 * imported lazily so `stepwise grade` never loads the native addon and a broken optional part cannot stop
 * the others from running.
 */
export interface Command {
  /** One line for the command list. */
  summary: string;
  load(): Promise<{ help: string; run(args: string[]): Promise<number> }>;
}

export const commands: Record<string, Command> = {
  backends: {
    summary: 'print what this machine can use (CPU features, BLAS, CUDA devices)',
    load: () => import('./backends.js'),
  },
  bench: {
    summary: 'benchmarks: `bench kernels`, `bench engine`, `bench search` (rates and ratios to floors measured in the same run)',
    load: () => import('./bench-dispatch.js'),
  },
  grade: {
    summary: 'compare a prediction with a reference answer (or grade a JSONL file of cases)',
    load: () => import('./grade.js'),
  },
  pipeline: {
    summary: 'run a recipe end to end in a run directory (base → sample → score → pairs → train → eval → report)',
    load: () => import('./pipeline.js'),
  },
  sample: { summary: 'pipeline stage: tree self-sampling (trees.jsonl)', load: () => import('./sample.js') },
  score: { summary: 'pipeline stage: step values for every tree node (scored.jsonl)', load: () => import('./score.js') },
  pairs: { summary: 'pipeline stage: the recipe\'s preference pairs (pairs.jsonl)', load: () => import('./pairs.js') },
  train: { summary: 'pipeline stage: the recipe\'s training stages (ckpt/<stage>/, metrics.jsonl)', load: () => import('./train.js') },
  eval: { summary: 'pipeline stage: greedy and MAJ@N accuracy of every checkpoint with 95% intervals', load: () => import('./eval.js') },
  report: { summary: 'pipeline stage: report.md, report.json and plots', load: () => import('./report.js') },
};
