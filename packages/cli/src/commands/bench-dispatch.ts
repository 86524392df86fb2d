/** `stepwise bench <what>`: routes to the kernel (bench.ts), engine (bench-engine.ts) or search (bench-search.ts) benchmark. */
import * as engine from './bench-engine.js';
import * as search from './bench-search.js';
import * as kernels from './bench.js';

export const help = `usage: stepwise bench kernels [--json FILE] [--quick]
       stepwise bench engine  [--json FILE] [--quick]
       stepwise bench search  [options]   (tree sampling with forked caches vs independent sampling)

Benchmarks (not tests): each prints a table of measured rates and their ratios to floors measured in the same
run (memory copy bandwidth, exp throughput, sgemm), and can write JSON records.
Run 'stepwise bench kernels --help' or 'stepwise bench engine --help' for details.`;

export async function run(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === 'engine') return engine.run(rest);
  if (what === 'search') return search.run(rest);
  if (what === 'kernels') return kernels.run(args);
  console.error(`stepwise bench: expected 'kernels', 'engine' or 'search', got ${what === undefined ? 'nothing' : `'${what}'`}\n\n${help}`);
  return 2;
}
