/**
 * Locates the shared test data: $STEPWISE_SHARED_DATA, else <repoRoot>/../shared/data. Suites that need it
 * skip with a printed reason when it is absent (CI checkouts without shared/), never silently pass.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const candidate = process.env.STEPWISE_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');

export function sharedData(): string | null {
  return existsSync(candidate) ? candidate : null;
}

/** Path of a shared file, or null after printing why the caller's suite will be skipped. */
export function sharedFile(rel: string): string | null {
  const path = join(candidate, rel);
  if (!existsSync(path)) {
    console.warn(`[skip] shared data file ${rel} not found at ${path} (set STEPWISE_SHARED_DATA to the data folder)`);
    return null;
  }
  return path;
}
