/**
 * End to end at the 'quick' preset: `stepwise pipeline --recipe sppd` from an empty directory to a report.
 * Checks the report's structure and that SPPD's greedy accuracy is at least the base model's on the same
 * held-out problems; the paired 95% interval and McNemar p are printed, and whether the gain is significant
 * at this scale is reported as measured (not asserted: at 100 problems it may not be).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = resolve(__dirname, '../packages/cli/dist/main.js');
const root = mkdtempSync(join(tmpdir(), 'stepwise-e2e-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('stepwise pipeline --recipe sppd --preset quick', () => {
  it('trains SFT → DPO → SPPD → stage 2 and SPPD is not below the base model', { timeout: 1_800_000 }, () => {
    const out = join(root, 'run');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'pipeline', '--recipe', 'sppd', '--preset', 'quick', '--out', out], { encoding: 'utf8' });
    const seconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) console.error(r.stdout, r.stderr);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| +SPPD |');
    for (const f of ['report.md', 'report.json', 'plots/accuracy.svg', 'plots/training.svg', 'metrics.jsonl', 'ckpt/sppd-2/model.safetensors']) expect(existsSync(join(out, f))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const row = (label: string) => report.rows.find((x: { label: string }) => x.label === label);
    const [base, sppd] = [row('base'), row('+SPPD')];
    const d = sppd.vsBase.greedy;
    console.log(`quick e2e in ${seconds.toFixed(0)} s; greedy base ${(100 * base.greedy.estimate).toFixed(1)}% → +SPPD ${(100 * sppd.greedy.estimate).toFixed(1)}%; ` +
      `paired diff ${(100 * d.estimate).toFixed(1)} [${(100 * d.lo).toFixed(1)}, ${(100 * d.hi).toFixed(1)}], p = ${d.pValue.toPrecision(2)}, significant: ${d.significantlyBetter}`);
    expect(sppd.greedy.estimate).toBeGreaterThanOrEqual(base.greedy.estimate);
    // The training curves exist for every stage and the preference stages learned their pairs.
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const s of ['sft', 'dpo', 'sppd', 'sppd-2']) expect(metrics.some((m) => m.stage === s)).toBe(true);
    const last = metrics.filter((m) => m.stage === 'sppd').at(-1);
    expect(last.rewardAccuracy).toBeGreaterThan(0.5);
  });
});
