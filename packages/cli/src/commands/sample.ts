import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'sample',
  `Tree self-sampling with the round's policy (base model, or the previous round's last checkpoint): trees.jsonl.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('sample', help, args, ['sample']);
}
