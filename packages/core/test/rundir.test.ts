import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { hashBytes, hashFile, writeFileAtomic, writeJsonAtomic } from '../src/atomic.js';
import { ArgumentError, RunDirError } from '../src/errors.js';
import { ResumableJsonl } from '../src/jsonl.js';
import { canonicalJson, detectCodeVersion, hashPath, RunDir } from '../src/rundir.js';
import { validateManifest } from '../src/validate.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'stepwise-run-'));
const config = { recipe: 'sppd', sampler: { k: 4, c: 2 } };

describe('atomic writes and hashes', () => {
  test('replace whole files and leave no temporary behind', async () => {
    const dir = tmp();
    const file = join(dir, 'a', 'b.json');
    await writeJsonAtomic(file, { x: 1 });
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, 'a'))).toEqual(['b.json']);
    expect(await hashFile(file)).toBe(hashBytes(new Uint8Array([1, 2, 3])));
    expect(hashBytes('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('folder hashes change with any file and ignore in-flight temporaries', async () => {
    const dir = join(tmp(), 'ckpt');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), 'w');
    await writeFile(join(dir, 'sub', 'config.json'), '{}');
    const h = await hashPath(dir);
    expect(h).toMatch(/^sha256-tree:[0-9a-f]{64}$/);
    await writeFile(join(dir, '.model.safetensors.tmp-1-abcd'), 'partial');
    expect(await hashPath(dir)).toBe(h);
    await writeFile(join(dir, 'sub', 'config.json'), '{"a":1}');
    expect(await hashPath(dir)).not.toBe(h);
  });

  test('canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: 0 } })).toBe('{"a":{"c":0,"d":[1,{"e":3,"f":2}]},"b":1}');
  });
});

describe('RunDir', () => {
  test('creates a valid manifest with every planned stage pending', async () => {
    const root = join(tmp(), 'demo');
    const run = await RunDir.open(root, { config, seeds: { sample: 1, train: 2 }, codeVersion: 'test', stages: ['sample', 'train'] });
    const m = validateManifest(JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8')));
    expect(m.name).toBe('demo');
    expect(m.codeVersion).toBe('test');
    expect(Object.values(m.stages).map((s) => s.status)).toEqual(['pending', 'pending']);
    expect(run.manifest).toEqual(m);
    expect(() => run.path('../escape')).toThrow(ArgumentError);
    await expect(RunDir.open(root, { config, seeds: { sample: 1, train: 2 } })).rejects.toThrow(/in use by pid/);
    await run.close();
    await expect(RunDir.open(root, { config: { ...config, recipe: 'dpo' } })).rejects.toThrow(RunDirError);
    await expect(RunDir.open(root, { config, seeds: { sample: 9 } })).rejects.toThrow(/seeds differ/);
    // A failed open releases the lock again.
    await (await RunDir.open(root, { config, seeds: { sample: 1, train: 2 } })).close();
  });

  test('normalizeConfig fills fields added after the run was created, so the run still resumes', async () => {
    const root = join(tmp(), 'older');
    const old = { recipe: 'sppd', train: { lr: 1e-5 } };
    await (await RunDir.open(root, { config: old })).close();
    const withDefault = (c: Record<string, unknown>) => ({ ...c, train: { chosenNll: 0, ...(c.train as object) } });
    const current = withDefault(old);
    // Without the normaliser the new field reads as a different config.
    await expect(RunDir.open(root, { config: current })).rejects.toThrow(/config differs/);
    await (await RunDir.open(root, { config: current, normalizeConfig: withDefault })).close();
    // A real change is still refused, and a normaliser that throws leaves the stored config as it was.
    await expect(RunDir.open(root, { config: withDefault({ ...old, recipe: 'dpo' }), normalizeConfig: withDefault })).rejects.toThrow(/config differs/);
    const boom = () => {
      throw new Error('unknown field');
    };
    await expect(RunDir.open(root, { config: current, normalizeConfig: boom })).rejects.toThrow(/config differs/);
    await (await RunDir.open(root, { config: old, normalizeConfig: boom })).close();
  });

  test('a lock left by a dead process on this host is taken over', async () => {
    const root = join(tmp(), 'stale');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await mkdir(root, { recursive: true });
    await writeFile(join(root, '.lock'), JSON.stringify({ pid: dead, host: hostname() }));
    const run = await RunDir.open(root, { config });
    expect(JSON.parse(await readFile(join(root, '.lock'), 'utf8')).pid).toBe(process.pid);
    await run.close();
    await writeFile(join(root, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere' }));
    await expect(RunDir.open(root, { config })).rejects.toThrow(/pid 1 on elsewhere/);
  });

  test('complete stages are skipped; interrupted ones resume from their partial output', async () => {
    const root = join(tmp(), 'resume');
    const problems = ['p1', 'p2', 'p3', 'p4'];
    let calls = 0;
    const stage = (crashAfter: number | null) => async (ctx: import('../src/rundir.js').StageContext) => {
      calls++;
      const out = await ResumableJsonl.open<{ id: string }>(ctx.output('trees.jsonl'), { key: (r) => r.id });
      let wrote = 0;
      for (const id of problems) {
        if (out.has(id)) continue;
        if (crashAfter !== null && wrote === crashAfter) {
          await out.close();
          throw new Error('simulated crash');
        }
        await out.append({ id });
        wrote++;
      }
      await out.close();
      return { problems: out.done.size, resumed: ctx.resumed, attempt: ctx.attempt };
    };
    let run = await RunDir.open(root, { config });
    await expect(run.runStage('sample', stage(2))).rejects.toThrow('simulated crash');
    expect(run.stage('sample')?.status).toBe('running');
    // A new process: reopen the run and call the stage again.
    await run.close();
    run = await RunDir.open(root, { config });
    const second = await run.runStage('sample', stage(null));
    expect(second.skipped).toBe(false);
    expect(second.record.summary).toEqual({ problems: 4, resumed: true, attempt: 2 });
    expect(second.record.outputs['trees.jsonl']).toBe(await hashFile(join(root, 'trees.jsonl')));
    const lines = (await readFile(join(root, 'trees.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(problems);
    const third = await run.runStage('sample', stage(null));
    expect(third.skipped).toBe(true);
    expect(calls).toBe(2);
    // An output edited after completion is reported, not silently reused.
    await writeFile(join(root, 'trees.jsonl'), 'tampered\n');
    await expect(run.runStage('sample', stage(null))).rejects.toThrow(/changed/);
    await run.close();
  });

  test('a declared output that was never written fails the stage and leaves it running', async () => {
    const run = await RunDir.open(join(tmp(), 'r'), { config });
    await expect(
      run.runStage('pairs', async (ctx) => {
        ctx.output('pairs.jsonl');
      }),
    ).rejects.toThrow(/did not write it/);
    expect(run.stage('pairs')?.status).toBe('running');
    await expect(run.runStage('bad name', async () => {})).rejects.toThrow(ArgumentError);
    await run.close();
  });

  test('code version names the package and, in a checkout, the commit', () => {
    expect(detectCodeVersion()).toMatch(/^@stepwise\/core@\d+\.\d+\.\d+(\+git\.[0-9a-f]{12}(\.dirty)?)?$/);
  });
});
