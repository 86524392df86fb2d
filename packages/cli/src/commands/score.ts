import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'score',
  `Values every tree node with the recipe's scorer (Monte-Carlo rollouts by default): scored.jsonl.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('score', help, args, ['score']);
}
