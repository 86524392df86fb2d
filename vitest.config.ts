import { defineConfig } from 'vitest/config';

// Root config: runs every package's own project config (each package also runs alone with `vitest run`).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'test/vitest.config.ts'],
  },
});
