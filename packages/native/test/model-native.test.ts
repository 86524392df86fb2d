// Runs the C++ engine tests (float64 finite-difference gradient check of every tensor, cache equivalence) when
// the build has them (STEPWISE_NATIVE_TESTS=1); otherwise this file reports them skipped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const build = join(dirname(fileURLToPath(import.meta.url)), '..', 'build');

describe('native engine tests', () => {
  for (const name of ['test_model_grad', 'test_model_cache', 'test_model_attention']) {
    const exe = join(build, name);
    it.skipIf(!existsSync(exe))(`${name} passes`, () => {
      const r = spawnSync(exe, { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout).toMatch(/all passed/);
      expect(r.status).toBe(0);
    });
  }
});
