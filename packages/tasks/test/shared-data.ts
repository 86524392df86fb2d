/**
 * Locates the shared test data: $STEPWISE_SHARED_DATA, else <repoRoot>/../shared/data. Suites that need it
 * skip with a printed reason when it is absent (CI checkouts without shared/), never silently pass.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function sharedData(): string | null {
  const dir = process.env.STEPWISE_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');
  return existsSync(dir) ? dir : null;
}

/** Path of a shared file, or null after printing why the caller's suite will be skipped. */
export function sharedFile(rel: string): string | null {
  const dir = sharedData();
  const path = dir ? join(dir, rel) : null;
  if (!path || !existsSync(path)) {
    console.warn(`[skip] shared data file ${rel} not found (looked in ${dir ?? '$STEPWISE_SHARED_DATA or <repoRoot>/../shared/data'})`);
    return null;
  }
  return path;
}
