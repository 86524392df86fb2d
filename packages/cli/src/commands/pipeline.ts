import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'pipeline',
  `Runs a recipe end to end in a run directory: base model → sample trees → score steps → select pairs → train
stages → evaluate every checkpoint on the held-out split (greedy and MAJ@N with 95% intervals, paired
difference vs base) → report.md / report.json / plots. Prints the results table at the end.`,
  true,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('pipeline', help, args);
}
