import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'pairs',
  `Selects the recipe's pairs (sentence-level τ⁺/τ⁻, sibling step pairs, …) from the scored trees: pairs.jsonl.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('pairs', help, args, ['pairs']);
}
