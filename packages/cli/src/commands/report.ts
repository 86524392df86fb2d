import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'report',
  `Writes report.md, report.json and plots/*.svg from eval/*.json and metrics.jsonl, and prints the table.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('report', help, args, ['report']);
}
