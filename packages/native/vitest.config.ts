import { defineProject } from 'vitest/config';

// forks: each test file in its own process, the safe choice for a native addon.
export default defineProject({
  test: { include: ['test/**/*.test.ts'], pool: 'forks', testTimeout: 120_000 },
});
