/**
 * End to end at the 'quick' preset: `stepwise pipeline --recipe sppd` from an empty directory to a report.
 * Checks that every stage's files exist and that the report is well formed: every model's accuracies carry
 * valid 95% intervals over the same held-out problems, and every paired difference against the base agrees
 * with its discordant counts. SPPD's gain over the base is printed as measured, not asserted: at this scale
 * it is not significant. The quick base (250 steps, ~11% greedy) has not learned the arithmetic yet, and SFT on
 * its few correct solutions does not teach it (measured with 512 problems: +0.0 at lr 1e-4, −1.0 at 1e-3, −2.0
 * at 3e-3); the significant gain needs the competent 1800-step base of the full preset (README, main job).
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
  it('trains SFT → DPO → SPPD → stage 2 and reports every model with intervals and paired comparisons', { timeout: 1_800_000 }, () => {
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
    const labels = report.rows.map((x: { label: string }) => x.label);
    expect(labels).toEqual(['base', '+SFT-PRM', '+DPO-PRM', '+SPPD', '+SPPD stage 2']);
    for (const x of report.rows) {
      for (const k of ['greedy', 'maj']) {
        const i = x[k];
        expect(i.n).toBe(report.problems);
        expect(i.lo).toBeLessThanOrEqual(i.estimate);
        expect(i.hi).toBeGreaterThanOrEqual(i.estimate);
        if (x.label === 'base') continue;
        const v = x.vsBase[k];
        expect(v.n).toBe(report.problems);
        expect(v.estimate).toBeCloseTo((v.bOnly - v.aOnly) / v.n, 12);
        expect(v.estimate).toBeCloseTo(i.estimate - base[k].estimate, 12);
      }
    }
    // Every training stage wrote its curve, with finite losses.
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const s of ['sft', 'dpo', 'sppd', 'sppd-2']) {
      const steps = metrics.filter((m) => m.stage === s && m.kind === 'train');
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.every((m) => Number.isFinite(m.loss))).toBe(true);
    }
  });
});
