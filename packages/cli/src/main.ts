#!/usr/bin/env node
/** The `stepwise` command: dispatches to the subcommands in commands/registry.ts. Exit codes: 0 ok, 1 failure, 2 usage. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { commands } from './commands/registry.js';

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: stepwise <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'stepwise <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`stepwise: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  // A leading --help is the command's; a later one belongs to a nested subcommand (`bench engine --help`).
  if (rest[0] === '--help' || rest[0] === '-h') {
    console.log(mod.help);
    return 0;
  }
  return mod.run(rest);
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
