/**
 * Loads the compiled addon. Candidates, in order: $STEPWISE_NATIVE_BINARY, build/Release, build/Debug.
 * On failure it throws one NativeLoadError listing every path tried, why each failed, and how to build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NativeLoadError } from './errors.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export interface BackendsInfo {
  cpu: { usable: true; threads: number; avx2: boolean; blas: string };
  cuda: { compiled: boolean; usable: boolean; devices: string[]; reason?: string };
}

/** The raw addon: untyped functions, validated and wrapped by the modules of this package. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RawBinding = Record<string, any> & { backends(): BackendsInfo };

let cached: RawBinding | undefined;

export function candidatePaths(): string[] {
  const list: string[] = [];
  if (process.env.STEPWISE_NATIVE_BINARY) list.push(resolve(process.env.STEPWISE_NATIVE_BINARY));
  list.push(join(packageDir, 'build', 'Release', 'stepwise_native.node'));
  list.push(join(packageDir, 'build', 'Debug', 'stepwise_native.node'));
  return list;
}

export function loadBinding(): RawBinding {
  if (cached) return cached;
  const failures: string[] = [];
  for (const path of candidatePaths()) {
    if (!existsSync(path)) {
      failures.push(`  ${path}: not found`);
      continue;
    }
    try {
      cached = require(path) as RawBinding;
      return cached;
    } catch (err) {
      failures.push(`  ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new NativeLoadError(
    [
      'The @stepwise/native addon could not be loaded. Tried:',
      ...failures,
      'Build it from the repository root with:',
      '  npm install && npx turbo run build:native --filter=@stepwise/native',
      'which needs cmake >= 3.18, a C++17 compiler, and (for the fast CPU GEMM) libopenblas-dev;',
      'CUDA kernels are added when nvcc is on PATH (STEPWISE_CUDA=AUTO|ON|OFF).',
      'Or point STEPWISE_NATIVE_BINARY at a built stepwise_native.node.',
    ].join('\n'),
  );
}

/** What this process can use: CPU always; CUDA with the device names when compiled in and a GPU is present. */
export function backends(): BackendsInfo {
  return loadBinding().backends();
}
