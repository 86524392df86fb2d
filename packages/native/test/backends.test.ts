import { describe, expect, it } from 'vitest';

import { backends, candidatePaths } from '../src/index.js';

describe('backends()', () => {
  it('reports a usable CPU with its thread count and BLAS', () => {
    const info = backends();
    expect(info.cpu.usable).toBe(true);
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(['openblas', 'cblas', 'fallback']).toContain(info.cpu.blas);
  });

  it('reports CUDA consistently: usable implies compiled and at least one named device', () => {
    const { cuda } = backends();
    if (cuda.usable) {
      expect(cuda.compiled).toBe(true);
      expect(cuda.devices.length).toBeGreaterThan(0);
      expect(cuda.devices.every((d) => d.length > 0)).toBe(true);
    } else {
      expect(cuda.devices).toEqual([]);
      expect(cuda.reason).toMatch(/\w/);
    }
  });

  it('looks for the binary in build/Release before build/Debug', () => {
    const paths = candidatePaths();
    const rel = paths.findIndex((p) => p.includes('/build/Release/'));
    const dbg = paths.findIndex((p) => p.includes('/build/Debug/'));
    expect(rel).toBeGreaterThanOrEqual(0);
    expect(dbg).toBeGreaterThan(rel);
  });
});
