import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('stepwise CLI', () => {
  it('lists its commands with --help and exits 0', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: stepwise <command>/);
    expect(r.stdout).toMatch(/backends/);
  });

  it('rejects an unknown command with exit code 2 and says which', () => {
    const r = run('no-such-command');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'no-such-command'/);
  });

  it('prints backends as JSON with a usable CPU', () => {
    const r = run('backends');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.cpu.usable).toBe(true);
    expect(typeof info.cuda.compiled).toBe('boolean');
  });

  it('rejects a --base-from that is not a checkpoint with exit code 2, before any stage runs', () => {
    const r = run('pipeline', '--recipe', 'sppd', '--preset', 'quick', '--base-from', '/nonexistent/ckpt', '--out', '/nonexistent/run');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--base-from.*config\.json/);
  });

  it('gives each command its own --help', () => {
    const r = run('backends', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: stepwise backends/);
  });
});
