/**
 * `stepwise grade`: compare a prediction with a reference answer using the answer grader of @stepwise/core
 * (docs/grading.md). One JSON line per comparison, `equal` first so that scripts can read it with a prefix match.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { compareAnswers, type GradeOptions } from '@stepwise/core';

export const help = `usage: stepwise grade [options] PRED GOLD
       stepwise grade [options] --cases FILE.jsonl

Compares a model output (or a final answer) PRED with a reference answer GOLD and prints one JSON line
{"equal": true|false, "reason": ..., "pred": extracted answer, "gold": extracted reference}.
With --cases, FILE.jsonl holds one {"pred": ..., "gold": ...} object per line; one result line is printed
per case, in order. Blank lines are skipped.

options:
  --cases FILE      grade every line of a JSONL file
  --no-extract      treat both strings as final answers (skip \\boxed / "the answer is" extraction)
  --precision N     also accept numbers that differ by at most 10^-N (Math-Verify style rounding)
  --rel-tol X       relative tolerance for inexact numbers (default 1e-4)
  --abs-tol X       absolute tolerance (default 1e-6)
  -h, --help        this text

exit status: 0 when every case was graded, 2 on bad usage or malformed input (the message names the file and
line), 1 on an unexpected error.`;

/** Bad command line: exit status 2. */
export class GradeUsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'GradeUsageError';
  }
}

/** A malformed line in a --cases file: exit status 2; the message names the file and the 1-based line. */
export class GradeInputError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'GradeInputError';
  }
}

interface Parsed {
  cases?: string;
  positional: string[];
  options: GradeOptions;
  help: boolean;
}

function numberArg(flag: string, value: string | undefined): number {
  if (value === undefined) throw new GradeUsageError(`${flag} needs a value`);
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0) throw new GradeUsageError(`${flag}: not a non-negative number: '${value}'`);
  return x;
}

function parseArgs(args: string[]): Parsed {
  const out: Parsed = { positional: [], options: {}, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    switch (a) {
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '--cases':
        if (args[i + 1] === undefined) throw new GradeUsageError('--cases needs a file');
        out.cases = args[++i];
        break;
      case '--no-extract':
        out.options.extract = false;
        break;
      case '--precision': {
        const p = numberArg(a, args[++i]);
        if (!Number.isInteger(p) || p > 15) throw new GradeUsageError(`--precision: expected an integer 0..15, got '${args[i]}'`);
        out.options.precision = p;
        break;
      }
      case '--rel-tol':
        out.options.relTol = numberArg(a, args[++i]);
        break;
      case '--abs-tol':
        out.options.absTol = numberArg(a, args[++i]);
        break;
      case '--':
        out.positional.push(...args.slice(i + 1));
        i = args.length;
        break;
      default:
        // A lone "-" or a negative number ("-5") is an answer, not an option.
        if (a.startsWith('--') || (/^-[A-Za-z]/.test(a) && a.length > 1)) throw new GradeUsageError(`unknown option '${a}'`);
        out.positional.push(a);
    }
  }
  return out;
}

function resultLine(pred: string, gold: string, options: GradeOptions): string {
  const v = compareAnswers(pred, gold, options);
  return JSON.stringify({ equal: v.equal, reason: v.reason, pred: v.pred, gold: v.gold });
}

async function gradeFile(file: string, options: GradeOptions): Promise<void> {
  if (!existsSync(file)) throw new GradeUsageError(`--cases: no such file: ${file}`);
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (e) {
      throw new GradeInputError(file, line, `malformed JSON: ${(e as Error).message}`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new GradeInputError(file, line, 'expected a JSON object');
    const { pred, gold } = row as { pred?: unknown; gold?: unknown };
    if (typeof pred !== 'string') throw new GradeInputError(file, line, '"pred" must be a string');
    if (typeof gold !== 'string') throw new GradeInputError(file, line, '"gold" must be a string');
    console.log(resultLine(pred, gold, options));
  }
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseArgs(args);
    if (p.help) {
      console.log(help);
      return 0;
    }
    if (p.cases !== undefined) {
      if (p.positional.length > 0) throw new GradeUsageError('give either --cases FILE or PRED GOLD, not both');
      await gradeFile(p.cases, p.options);
      return 0;
    }
    if (p.positional.length !== 2) throw new GradeUsageError(`expected PRED and GOLD, got ${p.positional.length} argument(s)`);
    console.log(resultLine(p.positional[0]!, p.positional[1]!, p.options));
    return 0;
  } catch (e) {
    if (e instanceof GradeUsageError) {
      console.error(`stepwise grade: ${e.message}\n\n${help}`);
      return e.exitCode;
    }
    if (e instanceof GradeInputError) {
      console.error(`stepwise grade: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
