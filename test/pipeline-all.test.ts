/**
 * Every recipe end to end at tiny settings: `stepwise pipeline --recipe all` with a briefly trained base model (60 steps),
 * 24 training problems and 16 test problems. A plumbing test: it checks that every recipe's every stage ran and
 * wrote its files, that each recipe's own search shaped its data (MCTS statistics for svpo, pruned-search
 * routes for sphere, the SBS protocol in svpo's eval), and that the combined report lists every recipe, has the
 * margin ablation and only paired differences consistent with their discordant counts. Accuracy is not
 * asserted: a 60-step base model solves a few percent, so the oracle finds no right step and the briefly
 * trained PRM no value gap — those stages must then be marked "not trained", never silently skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigs, RECIPES, SHARED_FULL, stagePlan } from '@stepwise/recipes';

const CLI = resolve(__dirname, '../packages/cli/dist/main.js');
const root = mkdtempSync(join(tmpdir(), 'stepwise-all-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Small enough for a few minutes on 2 shared cores, large enough that every recipe's rule finds pairs.
const TINY = {
  task: { trainProblems: 24, testProblems: 16 },
  // The full preset's architecture, not the quick preset's 2-layer model: after 60 steps the small model's
  // samples give step-dpo no first-error pair, and every recipe should train here.
  base: { steps: 60, warmupSteps: 6, model: SHARED_FULL.base.model },
  sample: { iterations: 8, walkers: 8 },
  score: { prmSteps: 10 },
  eval: { samples: 2, beamWidth: 2, beamSamples: 2 },
};

const jsonl = (f: string) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('stepwise pipeline --recipe all (tiny settings)', () => {
  it('runs every recipe and the margin ablation into one report', { timeout: 1_800_000 }, () => {
    const configFile = join(root, 'tiny.json');
    writeFileSync(configFile, JSON.stringify(TINY));
    const out = join(root, 'all');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'pipeline', '--recipe', 'all', '--preset', 'quick', '--config', configFile, '--out', out], { encoding: 'utf8' });
    console.log(`--recipe all at tiny settings: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    if (r.status !== 0) console.error(r.stdout.slice(-4000), r.stderr);
    expect(r.status).toBe(0);

    const configs = loadConfigs({ recipe: 'all', preset: 'quick', config: configFile, out, help: false });
    expect(configs.map((c) => c.recipe)).toEqual(Object.keys(RECIPES));
    for (const c of configs) {
      const dir = join(out, c.recipe);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      for (const stage of stagePlan(c)) expect(manifest.stages[stage]?.status, `${c.recipe} ${stage}`).toBe('complete');
      const files = ['ckpt/base/model.safetensors', 'report.md', 'report.json', 'metrics.jsonl', 'eval/base.json'];
      c.rounds.forEach((round, i) => {
        const s = i === 0 ? '' : `-r${i + 1}`;
        files.push(`trees${s}.jsonl`, `scored${s}.jsonl`, `pairs${s}.jsonl`);
        for (const t of round.train) files.push(`ckpt/${t.name}/model.safetensors`, `eval/${t.name}.json`);
      });
      for (const f of files) expect(existsSync(join(dir, f)), `${c.recipe}/${f}`).toBe(true);
      // A train stage without pairs is a copy of its input, marked in its checkpoint and in the report's label.
      const labels: string[] = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).rows.map((x: { label: string }) => x.label);
      for (const t of c.rounds.flatMap((round) => round.train)) {
        const examples = manifest.stages[`train-${t.name}`].summary.examples;
        expect(existsSync(join(dir, 'ckpt', t.name, 'untrained.json')), `${c.recipe} ${t.name}`).toBe(examples === 0);
        expect(labels).toContain(examples === 0 ? `${t.label} (not trained: no pairs)` : t.label);
      }
    }
    // The recipes whose rules can find pairs with a weak policy did train on them.
    for (const r of ['sppd', 'svpo', 'sphere', 'dpo']) expect(JSON.parse(readFileSync(join(out, r, 'manifest.json'), 'utf8')).stages[`train-${r === 'dpo' ? 'dpo' : r}`].summary.examples, r).toBeGreaterThan(0);

    // Each recipe's own search: MCTS statistics and Q-value pairs for svpo, routes for sphere.
    const svpoTrees = jsonl(join(out, 'svpo/scored.jsonl'));
    expect(svpoTrees.every((t) => t.scorer === 'mcts-q' && t.stats.visits[0] > 0 && t.stats.q.length === t.parent.length)).toBe(true);
    expect(jsonl(join(out, 'svpo/pairs.jsonl')).every((p) => p.rule === 'svpo-q' && p.chosenValue - p.rejectedValue > 1)).toBe(true);
    const sphereTrees = jsonl(join(out, 'sphere/trees.jsonl'));
    expect(sphereTrees.every((t) => t.stats.role.includes(1) && t.stats.role.includes(2))).toBe(true);
    expect(jsonl(join(out, 'sphere/pairs.jsonl')).every((p) => p.rule === 'sphere-max-min')).toBe(true);
    const svpoEval = JSON.parse(readFileSync(join(out, 'svpo/eval/svpo.json'), 'utf8'));
    expect(svpoEval.beam).toHaveLength(svpoEval.problems.length);
    expect(readFileSync(join(out, 'svpo/report.md'), 'utf8')).toContain('SBS(2,2) vs base');

    // The combined report: every recipe complete, the margin ablation, the oracle labelled as an upper bound.
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    for (const c of configs) expect(md).toContain(`| ${c.recipe} | complete |`);
    expect(md).toContain('## SPPD margin ablation');
    for (const x of ['sppd-fixed − sppd-gamma0', 'sppd − sppd-gamma0', 'sppd − sppd-fixed']) expect(md).toContain(`| ${x} |`);
    expect(md).toMatch(/\| sppd-oracle \| \+SPPD[^|]* \| \*\*ORACLE step checker \(upper-bound ablation\)\*\*/);
    expect(md).toContain('## What the numbers support');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.runs.every((x: { complete: boolean }) => x.complete)).toBe(true);
    expect(report.bonferroni.comparisons).toBe(report.comparisons.length);
    for (const { diff } of report.comparisons) {
      expect(diff.n).toBe(report.problems);
      expect(diff.estimate).toBeCloseTo((diff.bOnly - diff.aOnly) / diff.n, 12);
      expect(diff.lo).toBeLessThanOrEqual(diff.estimate);
      expect(diff.hi).toBeGreaterThanOrEqual(diff.estimate);
    }
    expect(existsSync(join(out, 'plots/accuracy.svg'))).toBe(true);
  });
});
