/**
 * `stepwise bench kernels [--json FILE] [--quick] [--all-active] [--only logits,hidden,small,cuda]`: the kernel benchmark
 * (implementation in ../bench/). Prints the table and PASS/MISS target lines; exits 0 whatever the numbers
 * (a benchmark reports, it does not gate), non-zero only for bad usage or when it could not run at all.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { runKernelBench, type KernelBenchResult } from '../bench/kernels.js';
import { formatTable } from '../bench/report.js';
import { formatTargets } from '../bench/targets.js';

export const help = `usage: stepwise bench kernels [--json FILE] [--quick] [--all-active] [--only SECTIONS]

Times the native kernels against the float64 JS references and a naive materialising version, on realistic
data, with floors (memory copy, exp rate, sgemm rate) measured in the same run. See benchmarks/README.md.

options:
  --json FILE      also write every record as JSON (e.g. bench-results/kernels.json)
  --quick          fewer repeats; skip the JS reference at the largest logits shape
  --all-active     no ignored prompt tokens (default: 30–60% per sequence, as in DPO batches), so the
                   per-element and sgemm-ratio targets count only rows that are really computed
  --only SECTIONS  comma-separated subset of: logits, hidden, small, cuda (floors always run)
  -h, --help       this text`;

const SECTIONS = ['logits', 'hidden', 'small', 'cuda'] as const;
type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  json?: string;
  quick: boolean;
  allActive?: boolean;
  only?: Section[];
}

/** Parses the arguments after `bench`; throws an Error with a usage message on anything unknown. */
export function parseBenchArgs(args: readonly string[]): BenchArgs | 'help' {
  const [what, ...rest] = args;
  if (what === undefined || what === '-h' || what === '--help' || what === 'help') return 'help';
  if (what !== 'kernels') throw new Error(`unknown benchmark '${what}' (available: kernels)`);
  const out: BenchArgs = { quick: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--quick') out.quick = true;
    else if (a === '--all-active') out.allActive = true;
    else if (a === '--json' || a === '--only') {
      const value = rest[++i];
      if (value === undefined || value.startsWith('--')) throw new Error(`${a} needs a value`);
      if (a === '--json') out.json = value;
      else {
        const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = parts.filter((p) => !(SECTIONS as readonly string[]).includes(p));
        if (bad.length > 0 || parts.length === 0) throw new Error(`--only: expected some of ${SECTIONS.join(', ')}, got '${value}'`);
        out.only = parts as Section[];
      }
    } else throw new Error(`unknown option '${a}'`);
  }
  return out;
}

/** The JSON file: run metadata plus the records, in one object. */
export function jsonReport(result: KernelBenchResult, startedAt: string): string {
  return JSON.stringify(
    {
      benchmark: 'kernels',
      startedAt,
      machine: result.machine,
      notes: result.notes,
      targets: result.targets,
      records: result.records,
    },
    null,
    2,
  );
}

export async function run(args: string[]): Promise<number> {
  let parsed: BenchArgs | 'help';
  try {
    parsed = parseBenchArgs(args);
  } catch (err) {
    console.error(`stepwise bench: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(help);
    return 0;
  }
  const startedAt = new Date().toISOString();
  const result = await runKernelBench({
    quick: parsed.quick,
    allActive: parsed.allActive,
    sections: parsed.only,
    log: (m) => process.stderr.write(`[bench] ${m}\n`),
  });
  for (const note of result.notes) console.log(note);
  if (result.records.length === 0) {
    console.error('stepwise bench: nothing could be measured (see the notes above)');
    return 1;
  }
  console.log('');
  console.log(formatTable(result.records));
  console.log('');
  console.log('targets (a report, not a gate):');
  console.log(formatTargets(result.targets));
  if (parsed.json) {
    const path = resolve(parsed.json);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, jsonReport(result, startedAt) + '\n');
    console.log(`\nwrote ${path}`);
  }
  return 0;
}
