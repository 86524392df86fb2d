/**
 * Run directories (architecture §1): `runs/<name>/manifest.json` records the config, seeds, code version and,
 * per stage, its status (pending → running → complete) and the content hash of every output it declared.
 * `runStage` makes stages idempotent: a complete stage is skipped (after checking its outputs still hash the
 * same), a stage found `running` was interrupted and is re-entered with `resumed: true` so it can continue
 * from its partial output (e.g. through ResumableJsonl). The manifest is always replaced atomically.
 * One process per run directory at a time, enforced by a `.lock` file (released by `close()`; a lock left by
 * a process that died on this host is taken over).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { hashBytes, hashFile, writeJsonAtomic } from './atomic.js';
import { ArgumentError, RunDirError, ValidationError } from './errors.js';
import { validateManifest } from './validate.js';

export type StageStatus = 'pending' | 'running' | 'complete';

export interface StageRecord {
  status: StageStatus;
  startedAt: string | null;
  finishedAt: string | null;
  /** How many times the stage was entered (1 + the number of resumes). */
  attempts: number;
  /** Output path (relative to the run directory) → `sha256:<hex>` (files) or `sha256-tree:<hex>` (folders). */
  outputs: Record<string, string>;
  /** Small JSON the stage returned (counts, metrics) for people and later stages. */
  summary?: Record<string, unknown>;
}

export interface Manifest {
  schema: 'stepwise.manifest@1';
  name: string;
  createdAt: string;
  updatedAt: string;
  codeVersion: string;
  config: Record<string, unknown>;
  seeds: Record<string, number>;
  stages: Record<string, StageRecord>;
}

export interface OpenRunOptions {
  config: Record<string, unknown>;
  seeds?: Record<string, number>;
  /** Defaults to detectCodeVersion(). Recorded at creation; a resume with another version is allowed. */
  codeVersion?: string;
  /** Stage names to list as pending up front (so the manifest shows the whole plan). */
  stages?: readonly string[];
  /**
   * Applied to a copy of the stored config before it is compared with `config` (which the caller has already
   * normalised the same way): fills defaults of fields added after the run was created, so a resume is not
   * refused for a field the old run never set. A normaliser that throws leaves the stored config as it is.
   */
  normalizeConfig?: (stored: Record<string, unknown>) => unknown;
}

export interface StageContext {
  readonly run: RunDir;
  readonly name: string;
  /** True when an earlier attempt was interrupted: the stage's outputs may hold partial results to continue. */
  readonly resumed: boolean;
  readonly attempt: number;
  /** Declares an output (file or folder, relative to the run directory) and returns its absolute path. */
  output(relativePath: string): string;
}

export interface StageOutcome {
  skipped: boolean;
  record: StageRecord;
}

function normalizedStored(stored: Record<string, unknown>, normalize: OpenRunOptions['normalizeConfig']): unknown {
  if (!normalize) return stored;
  try {
    return normalize(structuredClone(stored));
  } catch {
    return stored; // not a config the current code accepts: compared raw, so it reads as "config differs"
  }
}

export const MANIFEST_FILE = 'manifest.json';
export const LOCK_FILE = '.lock';

export class RunDir {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly root: string,
    private state: Manifest,
    private readonly lock: string,
  ) {}

  /**
   * Opens `root`, creating it and its manifest when absent, and locks it for this process. An existing
   * manifest must hold the same config and seeds (compared as canonical JSON): resuming a run under another
   * config would mix results. Call `close()` when done.
   */
  static async open(root: string, options: OpenRunOptions): Promise<RunDir> {
    await mkdir(root, { recursive: true });
    const lock = await acquireLock(join(root, LOCK_FILE));
    try {
      return await RunDir.openLocked(root, options, lock);
    } catch (err) {
      await rm(lock, { force: true });
      throw err;
    }
  }

  private static async openLocked(root: string, options: OpenRunOptions, lock: string): Promise<RunDir> {
    const file = join(root, MANIFEST_FILE);
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RunDirError(file, 'cannot read manifest', { cause: err });
    }
    const seeds = options.seeds ?? {};
    if (text === null) {
      const now = new Date().toISOString();
      const stages: Record<string, StageRecord> = {};
      for (const s of options.stages ?? []) stages[checkStageName(s)] = pendingStage();
      const manifest: Manifest = {
        schema: 'stepwise.manifest@1',
        name: root.split(sep).filter(Boolean).pop() ?? root,
        createdAt: now,
        updatedAt: now,
        codeVersion: options.codeVersion ?? detectCodeVersion(),
        config: options.config,
        seeds,
        stages,
      };
      validateManifest(manifest); // config/seeds must be JSON before they are written
      const run = new RunDir(root, manifest, lock);
      await writeJsonAtomic(file, manifest);
      return run;
    }
    let manifest: Manifest;
    try {
      manifest = validateManifest(JSON.parse(text), 'manifest');
    } catch (err) {
      const why = err instanceof ValidationError ? err.message : `not valid JSON (${(err as Error).message})`;
      throw new RunDirError(file, why, { cause: err });
    }
    if (canonicalJson(normalizedStored(manifest.config, options.normalizeConfig)) !== canonicalJson(options.config)) {
      throw new RunDirError(file, 'config differs from the one this run was created with; use a new run name');
    }
    if (canonicalJson(manifest.seeds) !== canonicalJson(seeds)) {
      throw new RunDirError(file, 'seeds differ from the ones this run was created with; use a new run name');
    }
    const run = new RunDir(root, manifest, lock);
    let added = false;
    for (const s of options.stages ?? []) {
      if (!manifest.stages[checkStageName(s)]) (manifest.stages[s] = pendingStage()), (added = true);
    }
    if (added) await run.save();
    return run;
  }

  /** Waits for running stages and releases the lock. */
  async close(): Promise<void> {
    await this.chain;
    await rm(this.lock, { force: true });
  }

  /** A deep copy of the current manifest. */
  get manifest(): Manifest {
    return structuredClone(this.state);
  }

  /** Absolute path of a file inside the run directory (refuses paths that escape it). */
  path(relativePath: string): string {
    return join(this.root, checkRelative(relativePath));
  }

  stage(name: string): StageRecord | undefined {
    const s = this.state.stages[name];
    return s && structuredClone(s);
  }

  /**
   * Runs stage `name` unless it is complete. `fn` declares its outputs through `ctx.output` and may return a
   * small JSON summary. If `fn` throws, the stage stays `running` (partial) and the error propagates; the
   * next call re-enters it with `ctx.resumed = true`. Calls on one RunDir run one after another, so a stage
   * must not await another runStage from inside its own fn (that would wait on itself).
   */
  runStage(name: string, fn: (ctx: StageContext) => Promise<Record<string, unknown> | void>): Promise<StageOutcome> {
    try {
      checkStageName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const next = this.chain.then(() => this.runStageNow(name, fn));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runStageNow(
    name: string,
    fn: (ctx: StageContext) => Promise<Record<string, unknown> | void>,
  ): Promise<StageOutcome> {
    const previous = this.state.stages[name] ?? pendingStage();
    if (previous.status === 'complete') {
      for (const [rel, expected] of Object.entries(previous.outputs)) {
        const actual = await hashPath(this.path(rel)).catch(() => 'missing');
        if (actual !== expected) {
          throw new RunDirError(this.path(rel), `output of complete stage "${name}" changed (${expected} → ${actual}); delete the stage's outputs and its manifest entry to redo it`);
        }
      }
      return { skipped: true, record: structuredClone(previous) };
    }
    const record: StageRecord = {
      ...previous,
      status: 'running',
      startedAt: previous.startedAt ?? new Date().toISOString(),
      finishedAt: null,
      attempts: previous.attempts + 1,
    };
    this.state.stages[name] = record;
    await this.save();
    const declared = new Set<string>(Object.keys(previous.outputs));
    const ctx: StageContext = {
      run: this,
      name,
      resumed: previous.status === 'running',
      attempt: record.attempts,
      output: (rel) => {
        const clean = checkRelative(rel);
        declared.add(clean);
        return join(this.root, clean);
      },
    };
    const summary = await fn(ctx);
    const outputs: Record<string, string> = {};
    for (const rel of [...declared].sort()) {
      try {
        outputs[rel] = await hashPath(this.path(rel));
      } catch (err) {
        throw new RunDirError(this.path(rel), `stage "${name}" declared this output but did not write it`, { cause: err });
      }
    }
    const done: StageRecord = { ...record, status: 'complete', finishedAt: new Date().toISOString(), outputs };
    if (summary) done.summary = summary;
    this.state.stages[name] = done;
    await this.save();
    return { skipped: false, record: structuredClone(done) };
  }

  private async save(): Promise<void> {
    this.state.updatedAt = new Date().toISOString();
    await writeJsonAtomic(join(this.root, MANIFEST_FILE), this.state);
  }
}

/** Creates the lock file exclusively; takes over a lock whose process is gone (same host only). */
async function acquireLock(path: string): Promise<string> {
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, mine, { flag: 'wx' });
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunDirError(path, 'cannot create lock', { cause: err });
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(await readFile(path, 'utf8')) as typeof holder;
    } catch {
      // unreadable or half-written lock: treat as held, the message below says how to clear it
    }
    if (attempt === 0 && holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid)) {
      await rm(path, { force: true });
      continue;
    }
    throw new RunDirError(path, `run directory is in use by pid ${holder.pid ?? '?'} on ${holder.host ?? '?'}; if no such process runs, delete this lock file`);
  }
  throw new RunDirError(path, 'could not take over a stale lock (another process took it)');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function pendingStage(): StageRecord {
  return { status: 'pending', startedAt: null, finishedAt: null, attempts: 0, outputs: {} };
}

function checkStageName(name: string): string {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) throw new ArgumentError('name', 'a stage name of letters, digits, "_", "-", "."', name);
  return name;
}

function checkRelative(rel: string): string {
  const clean = normalize(rel).split(sep).join('/');
  if (isAbsolute(rel) || clean === '.' || clean.startsWith('../') || clean === '..') {
    throw new ArgumentError('relativePath', 'a path inside the run directory', rel);
  }
  return clean;
}

/**
 * Content hash of a file (`sha256:`) or of a folder (`sha256-tree:` over the sorted relative paths and file
 * hashes), so a checkpoint folder gets one hash that changes when any file in it does.
 */
export async function hashPath(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return hashFile(path);
  const lines: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.includes('.tmp-')) continue; // an atomic write in flight or abandoned, not content
      else lines.push(`${relative(path, full).split(sep).join('/')}\0${await hashFile(full)}\n`);
    }
  };
  await walk(path);
  return `sha256-tree:${hashBytes(lines.join('')).slice('sha256:'.length)}`;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * `@stepwise/core@<version>` plus `+git.<sha>` (and `.dirty` with uncommitted changes) when run inside a git
 * checkout, or the STEPWISE_CODE_VERSION environment variable when set (CI, containers without git).
 */
export function detectCodeVersion(cwd = process.cwd()): string {
  if (process.env.STEPWISE_CODE_VERSION) return process.env.STEPWISE_CODE_VERSION;
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    // bundled or relocated: the package version is unknown, the git sha below still identifies the code
  }
  const git = (args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 5000 });
  const head = git(['rev-parse', '--short=12', 'HEAD']);
  if (head.status !== 0 || !head.stdout) return `@stepwise/core@${version}`;
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).stdout?.trim() ? '.dirty' : '';
  return `@stepwise/core@${version}+git.${head.stdout.trim()}${dirty}`;
}
