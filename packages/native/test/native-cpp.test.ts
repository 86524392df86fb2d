// Runs every C++ test executable of native/tests (built with STEPWISE_NATIVE_TESTS=1, as CI and the README's
// test command do): the engine's float64 finite-difference gradient check of every tensor, attention and KV
// cache equivalence, the step log-prob kernels (AVX2 and portable paths) and the small kernels against
// float64 references, and the GPU kernel test (which, without a device, checks that GPU calls throw and says
// SKIP). Each must exit 0 and report no failure.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const build = join(dirname(fileURLToPath(import.meta.url)), '..', 'build');
const executables = existsSync(build)
  ? readdirSync(build).filter((f) => f.startsWith('test_') && (statSync(join(build, f)).mode & 0o111) !== 0).sort()
  : [];

if (executables.length === 0) {
  console.log(`native C++ tests skipped: none built in ${build} (build with STEPWISE_NATIVE_TESTS=1)`);
}

describe.skipIf(executables.length === 0)('native C++ test executables', () => {
  for (const name of executables) {
    it(`${name} passes`, () => {
      const r = spawnSync(join(build, name), { encoding: 'utf8', timeout: 240_000 });
      const output = `${r.stdout}\n${r.stderr}`;
      const skip = output.split('\n').find((l) => l.startsWith('SKIP'));
      if (skip) console.log(`${name}: ${skip}`);
      expect(r.status, output.slice(-2000)).toBe(0);
      expect(output).not.toMatch(/\b[1-9]\d* (failures|failed)\b/);
      expect(output).toMatch(/all passed|0 failures|0 failed|SKIP/);
    }, 300_000);
  }
});
