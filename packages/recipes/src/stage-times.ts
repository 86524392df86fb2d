/** Wall-clock seconds of each finished stage of a run directory, from its manifest (the attempt that finished it). */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function stageTimes(dir: string): Promise<Record<string, number> | null> {
  const f = join(dir, 'manifest.json');
  if (!existsSync(f)) return null;
  const m = JSON.parse(await readFile(f, 'utf8')) as { stages: Record<string, { startedAt?: string; finishedAt?: string }> };
  const out: Record<string, number> = {};
  for (const [name, st] of Object.entries(m.stages)) if (st.startedAt && st.finishedAt) out[name] = (Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000;
  return out;
}
