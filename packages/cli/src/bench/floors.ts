/**
 * Floors measured in every run (kernels.md §3.1): copy bandwidth and L1 exp rate at the start, the sgemm rate
 * at the from-hidden shape right before the from-hidden timings (the only ones it bounds: on a shared machine
 * a floor taken minutes earlier can be off by 2-3x). Each native floor returns per-pass seconds; the median goes
 * through the same statistics as every kernel time.
 */
import type { FloorTiming, NativeFloors } from './impls.js';
import { makeRecord, type BenchRecord, type Floors } from './report.js';
import { summarize } from './stats.js';

export interface FloorSettings {
  copyBytes: number;
  copyReps: number;
  expElemsPerThread: number;
  expPasses: number;
  expReps: number;
  sgemm: { m: number; n: number; k: number };
  sgemmReps: number;
}

export function floorSettings(quick: boolean): FloorSettings {
  return {
    // 2 × 256 MiB: far beyond any cache, small enough for a shared 2-core box.
    copyBytes: (quick ? 128 : 256) * 2 ** 20,
    copyReps: quick ? 3 : 7,
    // 2048 floats in + 2048 out = 16 KiB per thread: stays in a 32 KiB L1d.
    expElemsPerThread: 2048,
    expPasses: quick ? 10000 : 25000,
    expReps: quick ? 3 : 7,
    // The from-hidden target shape (logits = X W^T, W stored [V, d]).
    sgemm: { m: 2048, n: 32000, k: 896 },
    sgemmReps: quick ? 2 : 5,
  };
}

export interface FloorResult {
  floors: Floors;
  records: BenchRecord[];
  details: Record<string, { variant: string; threads: number }>;
}

type Unit = 'bytes' | 'exps' | 'flops';

function floorRecord(name: string, t: FloorTiming, unit: Unit, shape: { N?: number; V?: number; d?: number }): { perSec: number; record: BenchRecord } {
  const summary = summarize(t.seconds);
  const work = unit === 'bytes' ? { elements: 0, bytes: t.work } : unit === 'exps' ? { elements: t.work, bytes: 0 } : { elements: 0, bytes: 0, flops: t.work };
  const perSec = t.work / summary.median;
  const shown = unit === 'bytes' ? `${(perSec / 1e9).toFixed(1)} GB/s` : unit === 'exps' ? `${(perSec / 1e9).toFixed(2)} Gexp/s` : `${(perSec / 1e9).toFixed(1)} GFLOP/s`;
  const record = makeRecord({ kernel: name, impl: 'floor', direction: 'n/a', dtype: 'float32', ...shape, work, summary, note: `${shown}; ${t.variant}, ${t.threads} threads` });
  return { perSec, record };
}

/** Copy and exp floors (the sgemm floor is measured next to the from-hidden timings: measureSgemmFloor). */
export function measureFloors(native: NativeFloors, s: FloorSettings, log: (m: string) => void): FloorResult {
  const records: BenchRecord[] = [];
  const details: FloorResult['details'] = {};
  const one = (name: string, t: FloorTiming, unit: Unit) => {
    details[name] = { variant: t.variant, threads: t.threads };
    const r = floorRecord(name, t, unit, {});
    records.push(r.record);
    return r.perSec;
  };
  log(`floor: copy 2 × ${s.copyBytes / 2 ** 20} MiB`);
  const copyBytesPerSec = one('floor_copy', native.floorCopy(s.copyBytes, s.copyReps), 'bytes');
  log('floor: exp in L1');
  const expPerSec = one('floor_exp', native.floorExp(s.expElemsPerThread, s.expPasses, s.expReps), 'exps');
  return { floors: { copyBytesPerSec, expPerSec }, records, details };
}

export function measureSgemmFloor(native: NativeFloors, s: FloorSettings, log: (m: string) => void): { flopsPerSec: number; record: BenchRecord } {
  const { m, n, k } = s.sgemm;
  log(`floor: sgemm ${m}×${n}×${k}`);
  const r = floorRecord('floor_sgemm', native.floorSgemm(m, n, k, true, s.sgemmReps), 'flops', { N: m, V: n, d: k });
  return { flopsPerSec: r.perSec, record: r.record };
}

export function describeFloors(f: Floors): string {
  const sgemm = f.sgemmFlopsPerSec === undefined ? '' : `, sgemm ${(f.sgemmFlopsPerSec / 1e9).toFixed(1)} GFLOP/s`;
  return `floors: copy ${(f.copyBytesPerSec / 1e9).toFixed(1)} GB/s (read+write), exp ${(f.expPerSec / 1e9).toFixed(2)} G/s${sgemm}`;
}
