#!/usr/bin/env node
/** The `stepwise` command. Each subcommand lives in its own module under commands/. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { backends } from '@stepwise/native';

import * as bench from './commands/bench.js';

const USAGE = `usage: stepwise <command> [options]

commands:
  backends            print what this machine can use (CPU features, BLAS, CUDA devices)
  bench kernels       kernel benchmark: native vs JS references, ratios to measured floors
  help                this text

Run 'stepwise <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    case 'backends':
      void rest;
      console.log(JSON.stringify(backends(), null, 2));
      return 0;
    case 'bench':
      return bench.run(rest);
    default:
      console.error(`stepwise: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

function invokedAsScript(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedAsScript()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`stepwise: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
