/**
 * Kill-and-resume: the pipeline CLI is killed with SIGKILL at a random moment, then re-run until it
 * finishes; its final numbers, pairs and metrics must equal an uninterrupted run's, with no lost or
 * duplicated JSONL record. Tiny settings.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARED_FULL } from '@stepwise/recipes';

const CLI = resolve(__dirname, '../packages/cli/dist/main.js');
const root = mkdtempSync(join(tmpdir(), 'stepwise-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tiny = {
  task: { levels: [1], trainProblems: 40, testProblems: 24 },
  // The full preset's architecture: on the quick preset's 2-layer model the stages the kill aims at finish in
  // under a second, so a run could end before its kill.
  base: { steps: 150, batchSize: 16, lr: 3e-3, warmupSteps: 15, model: SHARED_FULL.base.model },
  sample: { iterations: 8, walkers: 8 },
  score: { scorer: 'outcome' },
  eval: { samples: 2 },
  // Outcome pairs need only one correct and one wrong sampled solution per problem, which a base model of
  // a few CPU minutes does produce; the point here is determinism under SIGKILL, not learning.
  rounds: [
    {
      train: [
        { name: 'sft', label: '+SFT', data: 'outcome', train: { objective: 'sft', epochs: 2, batchSize: 2, checkpointEvery: 1 } },
        { name: 'dpo', label: '+DPO', data: 'outcome', train: { objective: 'dpo', lr: 1e-4, epochs: 2, batchSize: 2, checkpointEvery: 1 } },
      ],
    },
  ],
};

function cli(args: string[]): { done: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise<number | null>((res) => child.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(err);
    res(code);
  }));
  return { done, kill: () => child.kill('SIGKILL') };
}

const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean);

describe('pipeline kill -9 and resume', () => {
  it('ends with the same numbers as an uninterrupted run', { timeout: 1_800_000 }, async () => {
    const cfg = join(root, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(tiny));
    const args = (out: string) => ['pipeline', '--recipe', 'dpo', '--preset', 'quick', '--config', cfg, '--out', out];
    const a = join(root, 'a');
    const t0 = Date.now();
    expect(await cli(args(a)).done).toBe(0);
    const whole = (Date.now() - t0) / 1000;

    const b = join(root, 'b');
    // Kill while a randomly chosen stage is running (a random 0–1 s into it), found by polling the manifest:
    // a kill timed by the clock alone can miss when the machine's load changes.
    const stages = ['sample', 'train-sft', 'train-dpo', 'eval']; // each runs for seconds at least
    const target = stages[Math.floor(Math.random() * stages.length)];
    const c = cli(args(b));
    let killedAt: string[] = [];
    const poll = setInterval(() => {
      try {
        const m = JSON.parse(readFileSync(join(b, 'manifest.json'), 'utf8'));
        if (m.stages[target]?.status !== 'running') return;
        clearInterval(poll);
        killedAt = Object.entries(m.stages).filter(([, v]) => (v as { status: string }).status === 'complete').map(([k]) => k);
        setTimeout(() => c.kill(), Math.random() * 1000);
      } catch {
        // the manifest is not written yet (or is being replaced): poll again
      }
    }, 100);
    const code = await c.done;
    clearInterval(poll);
    expect(code).toBeNull(); // it was killed, not finished
    expect(await cli(args(b)).done).toBe(0);
    console.log(`uninterrupted ${whole.toFixed(0)} s; SIGKILL during ${target}; complete then: ${JSON.stringify(killedAt)}`);

    const report = (d: string) => JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')).rows;
    expect(report(b)).toEqual(report(a));
    for (const f of ['trees.jsonl', 'scored.jsonl', 'pairs.jsonl']) expect(lines(join(b, f))).toEqual(lines(join(a, f)));
    const metrics = (d: string) => lines(join(d, 'metrics.jsonl')).map((l) => {
      const r = JSON.parse(l);
      delete r.tokensPerS;
      return r;
    });
    const mb = metrics(b);
    expect(mb).toEqual(metrics(a));
    expect(new Set(mb.map((r) => `${r.stage}/${r.kind}/${r.step}`)).size).toBe(mb.length);
    for (const f of ['ckpt/dpo/model.safetensors', 'ckpt/base/model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
  });
});
