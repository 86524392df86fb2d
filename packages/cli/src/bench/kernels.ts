/**
 * `stepwise bench kernels`: times every kernel of kernels.h (native) against the float64 JS references and the
 * naive materialising version, on realistic data (data.ts), and reports each time against floors measured
 * in the same run (floors.ts). Protocol and shapes: benchmarks/README.md. Nothing here fails on a slow result.
 */
import { freemem } from 'node:os';

import { Rng } from '@stepwise/core';

import { DPO_PROMPTS, makeDpoCase, makeHiddenCase, makeLogitsCase, makePool, makeRewardCase, NO_PROMPTS, type BenchDType, type LogitsPool } from './data.js';
import { describeFloors, floorSettings, measureFloors, measureSgemmFloor } from './floors.js';
import { resolveImpls, type Impls, type RawFn } from './impls.js';
import { measurePeak } from './memory.js';
import { makeRecord, type BenchRecord, type Direction, type Floors, type Impl, type RecordInput, type WorkModel } from './report.js';
import { summarize, timePerCall, timeRepeats, type Summary } from './stats.js';
import { benchCuda } from './cuda.js';
import { hiddenTargets, logitsTargets, type TargetLine } from './targets.js';

export interface KernelBenchOptions {
  quick: boolean;
  /** No ignored (prompt) tokens: every row is work, for a strict reading of the per-element targets. */
  allActive?: boolean;
  log: (message: string) => void;
  /** Restrict to some sections: floors are always measured. */
  sections?: ReadonlyArray<'logits' | 'hidden' | 'small' | 'cuda'>;
}

export interface KernelBenchResult {
  records: BenchRecord[];
  floors?: Floors;
  targets: TargetLine[];
  machine: Record<string, unknown>;
  notes: string[];
}

export const LOGITS_SHAPES: ReadonlyArray<[number, number]> = [
  [512, 32000],
  [512, 151936],
  [4096, 32000],
  [4096, 151936],
];
export const HIDDEN_SHAPE = { n: 2048, d: 896, v: 32000 };
/** --quick skips the JS reference (and naive) from this many elements up: the largest logits shape. */
export const QUICK_REFERENCE_LIMIT = 4096 * 151936;

interface Settings {
  warmup: number;
  repeats: number;
  budget: number;
  refRepeats: number;
  refBudget: number;
  smallRepeats: number;
}

const settingsFor = (quick: boolean): Settings =>
  quick
    ? { warmup: 1, repeats: 3, budget: 4, refRepeats: 1, refBudget: 10, smallRepeats: 5 }
    : { warmup: 2, repeats: 9, budget: 15, refRepeats: 3, refBudget: 40, smallRepeats: 15 };

const GIB = 2 ** 30;
/** Room for `bytes` more, keeping 2 GiB spare for the other processes of a shared machine. */
const haveMemory = (bytes: number) => freemem() > bytes + 2 * GIB;

class Ctx {
  records: BenchRecord[] = [];
  notes: string[] = [];
  constructor(
    readonly impls: Impls,
    readonly floors: Floors | undefined,
    readonly s: Settings,
    readonly quick: boolean,
    readonly log: (m: string) => void,
    readonly prompts = DPO_PROMPTS,
  ) {}

  add(r: Omit<RecordInput, 'floors'>): void {
    this.records.push(makeRecord({ ...r, floors: this.floors }));
  }

  /** Times a native call: warm-up, then up to `repeats` within the time budget (at least 3). */
  time(fn: () => void, setup?: () => void): Summary {
    const s = this.s;
    return summarize(timeRepeats(fn, { warmup: s.warmup, repeats: s.repeats, budgetSeconds: s.budget, minRepeats: 3, setup }));
  }
}

// ---- (a) from logits ------------------------------------------------------------------------------------

function benchLogits(ctx: Ctx, pool: LogitsPool, n: number, v: number): void {
  const { native, refs } = ctx.impls;
  const seed = `logits/${n}/${v}`;
  const base = { kernel: 'step_logprob', N: n, V: v };
  const workOf = (dir: Direction, dtype: BenchDType, active: number): WorkModel => {
    const size = dtype === 'float32' ? 4 : 2;
    // fwd reads the row once; fwd+bwd in place reads it and writes dlogits over it (kernels.md §2: 2+2 B/el bf16).
    return { elements: n * v, activeElements: active * v, bytes: (dir === 'fwd' ? 1 : 2) * n * v * size, exps: n * v };
  };
  const refSeconds: Partial<Record<Direction, number>> = {};

  for (const dtype of ['float32', 'bfloat16'] as const) {
    ctx.log(`step_logprob ${dtype} N=${n} V=${v}: generating data`);
    const c = makeLogitsCase(n, v, dtype, pool, seed, ctx.prompts);
    const gradStep = new Float32Array(c.numSteps);
    const g = new Rng(`${seed}/grad`);
    for (let i = 0; i < gradStep.length; i++) gradStep[i] = 0.1 * (g.next() - 0.5); // β·σ(−z)·w-sized upstream
    const active = c.activeRows;

    // References run on the fp32 case only: they read numbers, and the bf16 case holds the same numbers
    // (data.ts), so the float64 reference time is the same computation for both dtypes.
    if (dtype === 'float32') {
      const skipRef = ctx.quick && n * v >= QUICK_REFERENCE_LIMIT ? '--quick: JS reference skipped at the largest shape' : undefined;
      const refIn = { logits: c.logits, vocabSize: v, targets: c.targets, stepIndex: c.stepIndex, numSteps: c.numSteps };
      const jsCases: Array<[Impl, Direction, (() => void) | undefined, number, string]> = [
        ['reference', 'fwd', refs.stepLogprobRef && (() => void refs.stepLogprobRef!(refIn)), 0, 'stepLogprobRef'],
        [
          'reference',
          'fwd+bwd',
          refs.stepLogprobRef && refs.stepLogprobBackwardRef
            ? () => {
                const o = refs.stepLogprobRef!(refIn) as { lse: Float64Array };
                refs.stepLogprobBackwardRef!({ ...refIn, lse: o.lse, gradStep });
              }
            : undefined,
          8 * n * v,
          'stepLogprobBackwardRef',
        ],
        ['naive', 'fwd', refs.naiveStepLogprob && (() => void refs.naiveStepLogprob!(refIn)), 8 * n * v, 'naiveStepLogprob'],
      ];
      for (const [impl, dir, fn, extraBytes, name] of jsCases) {
        const rec = { ...base, impl, direction: dir, dtype, work: workOf(dir, dtype, active) };
        let skipped = skipRef ?? (fn ? undefined : `${name} not exported by @stepwise/native`);
        if (!skipped && !haveMemory(extraBytes)) skipped = `needs ${(extraBytes / GIB).toFixed(1)} GiB free, ${(freemem() / GIB).toFixed(1)} GiB available`;
        if (skipped) {
          ctx.add({ ...rec, skipped });
          continue;
        }
        ctx.log(`  ${impl} ${dir}`);
        // The first timed call doubles as the peak-memory probe: a separate probe would cost another call of
        // seconds, and later calls could see the previous call's uncollected float64 arrays.
        let first: number[] = [];
        const peak = measurePeak(() => (first = timeRepeats(fn!, { warmup: 0, repeats: 1 })));
        const rest = ctx.s.refRepeats > 1 && first[0] < ctx.s.refBudget ? timeRepeats(fn!, { warmup: 0, repeats: ctx.s.refRepeats - 1, budgetSeconds: ctx.s.refBudget - first[0], minRepeats: 1 }) : [];
        const summary = summarize([...first, ...rest]);
        if (impl === 'reference') refSeconds[dir] = summary.median;
        ctx.add({ ...rec, summary, peakExtraBytes: peak.bytes, peakMethod: peak.method, note: 'float64 JS, no warm-up (calls take seconds); peak from the first call' });
      }
    }

    const refNote = dtype === 'bfloat16' ? '×ref: float64 reference on the same values' : undefined;
    if (!native.stepLogprobForward || !native.stepLogprobBackward) {
      for (const dir of ['fwd', 'fwd+bwd'] as const)
        ctx.add({ ...base, impl: 'native', direction: dir, dtype, work: workOf(dir, dtype, active), skipped: 'native stepLogprob* not in the addon' });
      continue;
    }
    const outs = { tokenLogp: new Float32Array(n), stepSum: new Float32Array(c.numSteps), lse: new Float32Array(n) };
    const args = { logits: c.logits, dtype: dtype === 'float32' ? 'f32' : 'bf16', n, v, targets: c.targets, stepIndex: c.stepIndex, numSteps: c.numSteps };
    const fwd = (checkValues = false) => native.stepLogprobForward!({ ...args, ...outs, checkValues });
    ctx.log(`  native fwd`);
    const peakF = measurePeak(() => fwd());
    ctx.add({ ...base, impl: 'native', direction: 'fwd', dtype, work: workOf('fwd', dtype, active), summary: ctx.time(() => fwd()), referenceSeconds: refSeconds.fwd, peakExtraBytes: peakF.bytes, peakMethod: peakF.method, note: refNote });
    if (!ctx.quick) {
      ctx.add({ ...base, impl: 'native+check', direction: 'fwd', dtype, work: workOf('fwd', dtype, active), summary: ctx.time(() => fwd(true)), referenceSeconds: refSeconds.fwd, note: 'checkValues: true (NaN/Inf scan, the API default)' });
    }

    // In place overwrites the logits: every timed call starts from a pristine copy restored untimed.
    if (!haveMemory(c.logits.byteLength)) {
      ctx.add({ ...base, impl: 'native', direction: 'fwd+bwd', dtype, work: workOf('fwd+bwd', dtype, active), skipped: 'no memory for a pristine copy of the logits' });
      continue;
    }
    const pristine = c.logits.slice();
    const restore = () => (c.logits as Float32Array).set(pristine as Float32Array);
    const fwdBwd = () => {
      fwd();
      native.stepLogprobBackward!({ ...args, lse: outs.lse, gradStep, inPlace: true, checkValues: false });
    };
    ctx.log(`  native fwd+bwd in place`);
    restore();
    const peakB = measurePeak(fwdBwd);
    ctx.add({ ...base, impl: 'native', direction: 'fwd+bwd', dtype, work: workOf('fwd+bwd', dtype, active), summary: ctx.time(fwdBwd, restore), referenceSeconds: refSeconds['fwd+bwd'], peakExtraBytes: peakB.bytes, peakMethod: peakB.method, note: refNote ?? 'fwd, then bwd writing dlogits over the logits' });

    // The fused path (kernels.h (a+)): one read of each row and one exp per element instead of two of each.
    if (native.stepLogprobForwardGrad && native.stepLogprobGradScale) {
      const fused = (known: boolean) =>
        native.stepLogprobForwardGrad!({ ...args, ...outs, ...(known ? { gradStep } : {}), inPlace: true, checkValues: false });
      const fusedScale = () => {
        fused(false);
        native.stepLogprobGradScale!({ grad: c.logits, dtype: args.dtype, n, v, targets: c.targets, stepIndex: c.stepIndex, numSteps: c.numSteps, gradStep, checkValues: false });
      };
      const cases: Array<[Impl, () => void, string]> = [
        ['native-fused', () => fused(true), 'one pass: dlogits written over the logits with the upstream gradient given up front (or the unscaled pass, the scale left to the consumer)'],
        ['native-fused+scale', fusedScale, 'one pass unscaled, then a row-scale pass: dlogits from an upstream gradient computed after the forward'],
      ];
      for (const [impl, fn, note] of cases) {
        ctx.log(`  ${impl} fwd+bwd in place`);
        restore();
        const peak = measurePeak(fn);
        ctx.add({ ...base, impl, direction: 'fwd+bwd', dtype, work: workOf('fwd+bwd', dtype, active), summary: ctx.time(fn, restore), referenceSeconds: refSeconds['fwd+bwd'], peakExtraBytes: peak.bytes, peakMethod: peak.method, note: refNote ?? note });
      }
    }
  }
}

// ---- (a') from hidden states ------------------------------------------------------------------------------

function benchHidden(ctx: Ctx): void {
  const { native } = ctx.impls;
  const { n, d, v } = HIDDEN_SHAPE;
  const base = { kernel: 'step_logprob_hidden', N: n, d, V: v, dtype: 'float32' as const };
  if (ctx.impls.floors && ctx.floors) {
    const g = measureSgemmFloor(ctx.impls.floors, floorSettings(ctx.quick), ctx.log);
    ctx.records.push(g.record);
    ctx.floors.sgemmFlopsPerSec = g.flopsPerSec;
    ctx.notes.push(`sgemm floor (measured before the from-hidden timings): ${(g.flopsPerSec / 1e9).toFixed(1)} GFLOP/s`);
  }
  ctx.log(`step_logprob_hidden N=${n} d=${d} V=${v}: generating data`);
  const c = makeHiddenCase(n, d, v, `hidden/${n}/${d}/${v}`, ctx.prompts);
  // fwd: logits GEMM 2NdV; fwd+bwd: + dX and dW GEMMs = 6NdV (a recompute design does 8NdV; the floor counts 6).
  const workOf = (dir: Direction): WorkModel => ({
    elements: n * v,
    activeElements: c.activeRows * v,
    bytes: 4 * (n * d + v * d) + (dir === 'fwd' ? 0 : 4 * (n * d + v * d)),
    flops: (dir === 'fwd' ? 2 : 6) * n * d * v,
  });
  const skipped = 'float64 JS would need 2·N·d·V = ' + ((2 * n * d * v) / 1e9).toFixed(0) + ' GFLOP per call (minutes); not run';
  for (const dir of ['fwd', 'fwd+bwd'] as const) ctx.add({ ...base, impl: 'reference', direction: dir, work: workOf(dir), skipped });
  if (!native.stepLogprobHiddenForward || !native.stepLogprobHiddenBackward) {
    for (const dir of ['fwd', 'fwd+bwd'] as const) ctx.add({ ...base, impl: 'native', direction: dir, work: workOf(dir), skipped: 'native stepLogprobHidden* not in the addon' });
    return;
  }
  const gradStep = new Float32Array(c.numSteps).fill(-0.05);
  // Outputs pre-allocated so the peak measures only the kernel's own scratch (the target's "extra" memory).
  const outs = { tokenLogp: new Float32Array(n), stepSum: new Float32Array(c.numSteps), lse: new Float32Array(n) };
  const grads = { dhidden: new Float32Array(n * d), dweight: new Float32Array(v * d) };
  // Typed arrays start as untouched zero pages: without this fill, the kernel's first write to dweight would
  // fault 115 MB in and be counted as the kernel's peak growth.
  grads.dhidden.fill(1);
  grads.dweight.fill(1);
  const args = { hidden: c.hidden, weight: c.weight, dtype: 'f32', n, d, v, targets: c.targets, stepIndex: c.stepIndex, numSteps: c.numSteps, checkValues: false };
  const fwd = () => native.stepLogprobHiddenForward!({ ...args, ...outs });
  const fwdBwd = () => {
    fwd();
    native.stepLogprobHiddenBackward!({ ...args, lse: outs.lse, gradStep, ...grads });
  };
  const limit = `¼ of fp32 [N,V] = ${((n * v) / 2 ** 20).toFixed(1)} MiB`;
  for (const [dir, fn] of [['fwd', fwd], ['fwd+bwd', fwdBwd]] as const) {
    ctx.log(`  native ${dir}`);
    const peak = measurePeak(fn);
    ctx.add({ ...base, impl: 'native', direction: dir, work: workOf(dir), summary: ctx.time(fn), peakExtraBytes: peak.bytes, peakMethod: peak.method, note: `×floor vs sgemm; peak ${(peak.bytes / 2 ** 20).toFixed(1)} MiB (${peak.method}), limit ${limit}` });
  }
}

// ---- (b), (c): small kernels, µs per call -----------------------------------------------------------------

function benchSmall(ctx: Ctx): void {
  const { native, api, refs } = ctx.impls;
  const perCall = (fn: () => void, inner: number) =>
    summarize(timePerCall(fn, inner, { warmup: 2, repeats: ctx.s.smallRepeats, budgetSeconds: ctx.quick ? 1 : 4 }));
  const off = { checkValues: false };
  // Inner counts chosen so one sample takes ~milliseconds at the expected µs-per-call.
  for (const segments of [16, 1024]) {
    const c = makeRewardCase(segments, 1.0, `reward/${segments}`);
    const base = { kernel: 'reward_weights', N: c.total, dtype: 'float32' as const, perCall: true, note: `${segments} segments, ${c.total} steps` };
    const work = (dir: Direction): WorkModel => ({ elements: c.total, bytes: (dir === 'fwd' ? 8 : 16) * c.total });
    const weights = new Float32Array(c.total);
    const gradWeights = new Float32Array(c.total).fill(0.01);
    const gradRewards = new Float32Array(c.total);
    const nargs = { rewards: c.rewards, offsets: c.offsets, scale: c.scale, checkValues: false };
    const input = { rewards: c.rewards, offsets: c.offsets, scale: c.scale };
    // The float64 reference indexes with offsets, so it gets plain numbers rather than bigints.
    const refIn = { rewards: c.rewards, offsets: Array.from(c.offsets, Number), scale: c.scale };
    const impls: SmallImpl[] = [
      ['native', 'fwd', native.rewardWeightsForward && (() => void native.rewardWeightsForward!({ ...nargs, weights })), 2000],
      ['native', 'fwd+bwd', native.rewardWeightsForward && native.rewardWeightsBackward && (() => {
        native.rewardWeightsForward!({ ...nargs, weights });
        native.rewardWeightsBackward!({ weights, gradWeights, offsets: c.offsets, scale: c.scale, gradRewards, checkValues: false });
      }), 1000],
      ['api', 'fwd', api.rewardWeights && (() => void api.rewardWeights!(input, off)), 2000],
      ['api', 'fwd+bwd', api.rewardWeights && api.rewardWeightsBackward && (() => {
        const w = api.rewardWeights!(input, off) as { weights: Float32Array };
        api.rewardWeightsBackward!({ weights: w.weights, gradWeights, offsets: c.offsets, scale: c.scale }, off);
      }), 1000],
      ['reference', 'fwd', refs.rewardWeightsRef && (() => void refs.rewardWeightsRef!(refIn)), 200],
      ['reference', 'fwd+bwd', refs.rewardWeightsRef && refs.rewardWeightsBackwardRef && (() => {
        const w = refs.rewardWeightsRef!(refIn) as unknown as Float64Array;
        refs.rewardWeightsBackwardRef!({ ...refIn, weights: w, gradWeights });
      }), 100],
    ];
    timeSmall(ctx, base, impls, work, perCall);
  }
  for (const pairs of [8, 1024]) {
    const c = makeDpoCase(pairs, `dpo/${pairs}`);
    const base = { kernel: 'dpo_margin', N: pairs, dtype: 'float32' as const, perCall: true, note: `${pairs} pairs, sigmoid, β=0.1` };
    const work = (dir: Direction): WorkModel => ({ elements: pairs, bytes: (dir === 'fwd' ? 20 : 28) * pairs });
    const outs = { loss: new Float32Array(pairs), gradChosen: new Float32Array(pairs), gradRejected: new Float32Array(pairs) };
    const input = { policyChosen: c.policyChosen, policyRejected: c.policyRejected, refChosen: c.refChosen, refRejected: c.refRejected, margin: c.margin };
    const impls: SmallImpl[] = [
      ['native', 'fwd', native.dpoMargin && (() => void native.dpoMargin!({ ...input, beta: 0.1, loss: outs.loss, wantGrads: false, checkValues: false })), 2000],
      ['native', 'fwd+bwd', native.dpoMargin && (() => void native.dpoMargin!({ ...input, beta: 0.1, ...outs, checkValues: false })), 2000],
      ['api', 'fwd', api.dpoMargin && (() => void api.dpoMargin!(input, { beta: 0.1, grads: false, checkValues: false })), 2000],
      ['api', 'fwd+bwd', api.dpoMargin && (() => void api.dpoMargin!(input, { beta: 0.1, checkValues: false })), 2000],
      // The reference always computes loss, gradients and reductions: its one row is fwd+bwd.
      ['reference', 'fwd+bwd', refs.dpoMarginRef && (() => void refs.dpoMarginRef!({ ...input, beta: 0.1 })), 200],
    ];
    timeSmall(ctx, base, impls, work, perCall);
  }
}

type SmallImpl = [Impl, Direction, (() => void) | undefined, number];

function timeSmall(
  ctx: Ctx,
  base: Omit<RecordInput, 'impl' | 'direction' | 'work'>,
  impls: SmallImpl[],
  work: (dir: Direction) => WorkModel,
  perCall: (fn: () => void, inner: number) => Summary,
): void {
  const ref: Partial<Record<Direction, number>> = {};
  // References first so the native records can carry ×ref.
  const ordered = [...impls].sort((a, b) => (a[0] === 'reference' ? -1 : 0) - (b[0] === 'reference' ? -1 : 0));
  for (const [impl, dir, fn, inner] of ordered) {
    if (!fn) {
      ctx.add({ ...base, impl, direction: dir, work: work(dir), skipped: `${impl} ${base.kernel} not available` });
      continue;
    }
    ctx.log(`${base.kernel} ${impl} ${dir} (${base.note})`);
    const summary = perCall(fn, ctx.quick ? Math.max(1, Math.round(inner / 4)) : inner);
    if (impl === 'reference') ref[dir] = summary.median;
    ctx.add({ ...base, impl, direction: dir, work: work(dir), summary, referenceSeconds: impl === 'reference' ? undefined : ref[dir] });
  }
}

// ---- driver -------------------------------------------------------------------------------------------

export async function runKernelBench(opts: KernelBenchOptions): Promise<KernelBenchResult> {
  const impls = resolveImpls();
  const want = (s: 'logits' | 'hidden' | 'small' | 'cuda') => !opts.sections || opts.sections.includes(s);
  const machine: Record<string, unknown> = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    quick: opts.quick,
    ignoredPromptShare: opts.allActive ? 'none (--all-active)' : `${DPO_PROMPTS[0]}–${DPO_PROMPTS[1]} per sequence`,
  };
  const notes: string[] = [];
  if (impls.loadError) {
    notes.push(`native addon not loaded: ${impls.loadError.split('\n')[0]}`);
    return { records: [], targets: [], machine, notes };
  }
  machine.backends = impls.backends;
  let floors: Floors | undefined;
  const pre: BenchRecord[] = [];
  if (impls.floors) {
    const f = measureFloors(impls.floors, floorSettings(opts.quick), opts.log);
    floors = f.floors;
    pre.push(...f.records);
    machine.floorDetails = f.details;
    notes.push(describeFloors(floors));
  } else {
    notes.push('floors not in the addon (floorCopy/floorExp/floorSgemm missing): ×floor columns are empty');
  }
  const ctx = new Ctx(impls, floors, settingsFor(opts.quick), opts.quick, opts.log, opts.allActive ? NO_PROMPTS : DPO_PROMPTS);
  ctx.records.push(...pre);
  if (want('logits')) {
    opts.log('generating the logits pool (4M values, bf16-exact)');
    const pool = makePool(1 << 22, new Rng('bench/pool'));
    for (const [n, v] of LOGITS_SHAPES) benchLogits(ctx, pool, n, v);
  }
  if (want('hidden')) benchHidden(ctx);
  if (want('small')) benchSmall(ctx);
  if (want('cuda')) notes.push(...benchCuda(ctx.impls, ctx.records, opts.quick, opts.log));
  if (impls.floors && floors) {
    // Copy and exp again at the end: on a shared machine the spread between the two says how far the ratios
    // can be trusted (kernels.md §3.3, "a difference smaller than that spread is noise"). Ratios use the start.
    const s = floorSettings(true);
    const copy = impls.floors.floorCopy(s.copyBytes, s.copyReps);
    const exp = impls.floors.floorExp(s.expElemsPerThread, s.expPasses, s.expReps);
    const copyEnd = copy.work / summarize(copy.seconds).median;
    const expEnd = exp.work / summarize(exp.seconds).median;
    notes.push(
      `floor drift over the run: copy ${(floors.copyBytesPerSec / 1e9).toFixed(1)} → ${(copyEnd / 1e9).toFixed(1)} GB/s, ` +
        `exp ${(floors.expPerSec / 1e9).toFixed(2)} → ${(expEnd / 1e9).toFixed(2)} G/s (start → end; ratios use the start)`,
    );
    machine.floorsAtEnd = { copyBytesPerSec: copyEnd, expPerSec: expEnd };
  }
  machine.floors = floors; // now with the sgemm rate when the hidden section ran
  const targets = [...logitsTargets(ctx.records), ...hiddenTargets(ctx.records)];
  return { records: ctx.records, floors, targets, machine, notes: [...notes, ...ctx.notes] };
}
