import { defineProject } from 'vitest/config';

// Cross-package end-to-end tests (the whole pipeline on the embedded model).
export default defineProject({
  test: { name: 'e2e', include: ['**/*.test.ts'], pool: 'forks', testTimeout: 600_000 },
});
