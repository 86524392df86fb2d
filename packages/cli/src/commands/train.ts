import { commonHelp, runCommand } from '@stepwise/recipes';

export const help = commonHelp(
  'train',
  `Runs the recipe's training stages (SFT, DPO, SPPD, …) on pairs.jsonl: ckpt/<stage>/, metrics.jsonl. Resumes exactly.
Earlier stages must be complete in the run directory (run 'stepwise pipeline --stages …' or the other commands).`,
);

export async function run(args: string[]): Promise<number> {
  return runCommand('train', help, args, ['train']);
}
