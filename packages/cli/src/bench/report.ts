/**
 * Benchmark records, the printed table, and the PASS/MISS target lines. Pure functions of the records (no
 * timing here), so the tests can check the JSON shape and the ratio math on made-up numbers.
 */
import { floorRatio, rate, speedup, type Summary } from './stats.js';

export type Direction = 'fwd' | 'fwd+bwd' | 'n/a';
/**
 * native-fused: stepLogprobForwardGrad, forward and gradient in one pass (upstream gradient known before the
 * forward, or the scale folded into the consumer); native-fused+scale: the unscaled pass, then the row scale
 * that materialises dlogits (an upstream gradient computed from the forward, no consumer to fold it into).
 */
export type Impl = 'native' | 'native+check' | 'native-fused' | 'native-fused+scale' | 'api' | 'reference' | 'naive' | 'cuda' | 'floor';

export interface BenchRecord {
  kernel: string;
  impl: Impl;
  direction: Direction;
  dtype: 'float32' | 'bfloat16';
  N: number | null;
  V: number | null;
  d: number | null;
  /** Median seconds per call; null when skipped. */
  seconds: number | null;
  p20: number | null;
  p80: number | null;
  repeats: number;
  /** N·V elements per second / 1e9 (all rows, ignored ones included: the tensor the caller passes). */
  gelemPerSec: number | null;
  /** Same over the non-ignored rows only. */
  gelemPerSecActive: number | null;
  /** Modelled bytes (each input read once, each output written once) per second / 1e9. */
  gbPerSec: number | null;
  gflopPerSec: number | null;
  usPerCall: number | null;
  /** floorSeconds / seconds (1 = at the floor measured in this run); null where no floor applies. */
  floorRatio: number | null;
  floorSeconds: number | null;
  /** Which floor bound the time: "copy", "exp", "sgemm". */
  floorBound: string | null;
  /** reference seconds / these seconds. */
  speedupVsReference: number | null;
  /** Peak memory above inputs and outputs during one call (bytes), see peakMethod. */
  peakExtraBytes: number | null;
  peakMethod: string | null;
  activeFraction: number | null;
  skipped?: string;
  note?: string;
}

/** The work one call does, in the units the floors are measured in. */
export interface WorkModel {
  /** 0 where elements mean nothing (floors, GEMM-only work): the record then carries null Gelem/s. */
  elements: number;
  activeElements?: number;
  bytes: number;
  exps?: number;
  flops?: number;
}

export interface Floors {
  copyBytesPerSec: number;
  expPerSec: number;
  /** Measured just before the from-hidden timings; undefined until then (GEMM work then has no floor). */
  sgemmFlopsPerSec?: number;
}

/** Roofline floor: the slowest of the bounds that apply (memory always; exp and GEMM when modelled). */
export function floorFor(work: WorkModel, floors: Floors): { seconds: number; bound: string } | undefined {
  const bounds: Array<[string, number]> = [['copy', work.bytes / floors.copyBytesPerSec]];
  if (work.exps !== undefined) bounds.push(['exp', work.exps / floors.expPerSec]);
  if (work.flops !== undefined) {
    if (floors.sgemmFlopsPerSec === undefined) return undefined; // a GEMM bound is missing: no honest floor
    bounds.push(['sgemm', work.flops / floors.sgemmFlopsPerSec]);
  }
  let best = bounds[0];
  for (const b of bounds) if (b[1] > best[1]) best = b;
  return { seconds: best[1], bound: best[0] };
}

export interface RecordInput {
  kernel: string;
  impl: Impl;
  direction: Direction;
  dtype: 'float32' | 'bfloat16';
  N?: number;
  V?: number;
  d?: number;
  work: WorkModel;
  summary?: Summary;
  floors?: Floors;
  /** Median seconds of the reference for the same kernel, shape and direction, if measured. */
  referenceSeconds?: number;
  peakExtraBytes?: number | null;
  peakMethod?: string | null;
  skipped?: string;
  note?: string;
  /** µs-scale kernels: no floor applies (call overhead dominates), report µs/call. */
  perCall?: boolean;
}

export function makeRecord(r: RecordInput): BenchRecord {
  const s = r.summary;
  const t = s?.median;
  const floor = r.floors && !r.perCall ? floorFor(r.work, r.floors) : undefined;
  const perSec = (x: number | undefined, scale: number) => (t !== undefined && x !== undefined && x > 0 ? rate(x, t) / scale : null);
  const rec: BenchRecord = {
    kernel: r.kernel,
    impl: r.impl,
    direction: r.direction,
    dtype: r.dtype,
    N: r.N ?? null,
    V: r.V ?? null,
    d: r.d ?? null,
    seconds: t ?? null,
    p20: s?.p20 ?? null,
    p80: s?.p80 ?? null,
    repeats: s?.n ?? 0,
    gelemPerSec: perSec(r.work.elements, 1e9),
    gelemPerSecActive: perSec(r.work.activeElements, 1e9),
    gbPerSec: perSec(r.work.bytes, 1e9),
    gflopPerSec: perSec(r.work.flops, 1e9),
    usPerCall: r.perCall && t !== undefined ? t * 1e6 : null,
    floorRatio: floor && t !== undefined ? floorRatio(floor.seconds, t) : null,
    floorSeconds: floor?.seconds ?? null,
    floorBound: floor?.bound ?? null,
    speedupVsReference: t !== undefined ? (speedup(r.referenceSeconds, t) ?? null) : null,
    peakExtraBytes: r.peakExtraBytes ?? null,
    peakMethod: r.peakMethod ?? null,
    activeFraction:
      r.work.activeElements !== undefined && r.work.elements > 0 ? r.work.activeElements / r.work.elements : null,
  };
  if (r.skipped !== undefined) rec.skipped = r.skipped;
  if (r.note !== undefined) rec.note = r.note;
  return rec;
}

// ---- table ---------------------------------------------------------------------------------------------

function fmt(x: number | null, digits: number): string {
  if (x === null || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

function fmtTime(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(1)} µs`;
  if (seconds < 10) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${seconds.toFixed(2)} s`;
}

export function shapeOf(r: BenchRecord): string {
  const parts: string[] = [];
  if (r.N !== null) parts.push(`N=${r.N}`);
  if (r.d !== null) parts.push(`d=${r.d}`);
  if (r.V !== null) parts.push(`V=${r.V}`);
  return parts.join(' ') || '-';
}

const HEADER = ['kernel', 'impl', 'dir', 'dtype', 'shape', 'time (p50)', 'p20–p80', 'Gelem/s', 'GB/s', '×floor', '×ref', 'note'];

export function tableRows(records: readonly BenchRecord[]): string[][] {
  return records.map((r) => [
    r.kernel,
    r.impl,
    r.direction,
    r.dtype === 'float32' ? 'fp32' : 'bf16',
    shapeOf(r),
    r.skipped !== undefined ? 'skipped' : fmtTime(r.seconds),
    r.p20 === null ? '-' : `${fmtTime(r.p20)}–${fmtTime(r.p80)}`,
    fmt(r.gelemPerSec, 3),
    fmt(r.gbPerSec, 2),
    r.floorRatio === null ? '-' : `${fmt(r.floorRatio, 2)} ${r.floorBound ?? ''}`.trim(),
    r.speedupVsReference === null ? '-' : `${fmt(r.speedupVsReference, 1)}×`,
    r.skipped ?? r.note ?? '',
  ]);
}

/** Fixed-width text table; the last column (note) is left unpadded. */
export function formatTable(records: readonly BenchRecord[]): string {
  const rows = [HEADER, ...tableRows(records)];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((row) => [...row[c]].length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : cell + ' '.repeat(widths[c] - [...cell].length)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
