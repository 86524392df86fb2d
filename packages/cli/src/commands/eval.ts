import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'eval',
  `Evaluates base and every trained checkpoint on the held-out split (greedy, MAJ@N, Wilson 95% intervals): eval/*.json.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('eval', help, args, ['eval']);
}
