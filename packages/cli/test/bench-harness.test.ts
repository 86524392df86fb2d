// The benchmark harness's logic: statistics, the JSON record shape, ratio math, the target verdicts and the
// argument parser. No timing assertions: all durations here are made up or irrelevant.
import { describe, expect, it } from 'vitest';

import { floorFor, formatTable, makeRecord, type BenchRecord, type Floors } from '../src/bench/report.js';
import { floorRatio, quantile, rate, speedup, summarize, timePerCall, timeRepeats } from '../src/bench/stats.js';
import { formatTargets, hiddenTargets, logitsTargets } from '../src/bench/targets.js';
import { jsonReport, parseBenchArgs } from '../src/commands/bench.js';

const floors: Floors = { copyBytesPerSec: 20e9, expPerSec: 5e9, sgemmFlopsPerSec: 100e9 };
const summary = (median: number) => ({ median, p20: median * 0.9, p80: median * 1.1, min: median * 0.8, max: median * 1.2, n: 5 });

describe('statistics', () => {
  it('quantile interpolates linearly between order statistics (numpy/R type 7)', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(quantile(xs, 0.5)).toBe(3);
    expect(quantile(xs, 0.2)).toBeCloseTo(1.8, 12);
    expect(quantile(xs, 0.8)).toBeCloseTo(4.2, 12);
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(5);
    expect(quantile([7], 0.3)).toBe(7);
    expect(xs).toEqual([5, 1, 4, 2, 3]); // input not sorted in place
  });

  it('quantile and summarize reject empty, out-of-range and non-finite input', () => {
    expect(() => quantile([], 0.5)).toThrow(RangeError);
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
    expect(() => quantile([1], Number.NaN)).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError);
    expect(() => summarize([-1])).toThrow(RangeError);
  });

  it('summarize gives median, p20, p80, min, max and the count', () => {
    const s = summarize([0.4, 0.1, 0.3, 0.2, 0.5, 0.6]);
    expect(s.median).toBeCloseTo(0.35, 12);
    expect(s.p20).toBeCloseTo(0.2, 12);
    expect(s.p80).toBeCloseTo(0.5, 12);
    expect([s.min, s.max, s.n]).toEqual([0.1, 0.6, 6]);
  });

  it('rates and ratios never produce Infinity or NaN', () => {
    expect(rate(10, 2)).toBe(5);
    expect(rate(10, 0)).toBe(0);
    expect(rate(0, 1)).toBe(0);
    expect(floorRatio(1, 4)).toBe(0.25);
    expect(floorRatio(0, 4)).toBe(0);
    expect(speedup(10, 2)).toBe(5);
    expect(speedup(undefined, 2)).toBeUndefined();
    expect(speedup(10, 0)).toBeUndefined();
  });

  it('timeRepeats runs setup before every call, warms up untimed, and stops at the budget', () => {
    const log: string[] = [];
    const samples = timeRepeats(() => log.push('call'), { warmup: 2, repeats: 3, setup: () => log.push('setup') });
    expect(samples).toHaveLength(3);
    expect(log).toEqual(Array.from({ length: 5 }, () => ['setup', 'call']).flat());
    let calls = 0;
    const busy = () => {
      calls++;
      const end = Date.now() + 5;
      while (Date.now() < end);
    };
    const limited = timeRepeats(busy, { warmup: 0, repeats: 100, budgetSeconds: 0.001, minRepeats: 2 });
    expect(limited).toHaveLength(2);
    expect(calls).toBe(2);
  });

  it('timePerCall divides each sample by the inner count', () => {
    let calls = 0;
    const s = timePerCall(() => calls++, 50, { warmup: 1, repeats: 2 });
    expect(s).toHaveLength(2);
    expect(calls).toBe(150);
    expect(() => timePerCall(() => undefined, 0, { warmup: 0, repeats: 1 })).toThrow(RangeError);
  });
});

describe('records', () => {
  it('floorFor takes the slowest applicable bound', () => {
    expect(floorFor({ elements: 1, bytes: 20e9 }, floors)).toEqual({ seconds: 1, bound: 'copy' });
    expect(floorFor({ elements: 1, bytes: 20e9, exps: 10e9 }, floors)).toEqual({ seconds: 2, bound: 'exp' });
    expect(floorFor({ elements: 1, bytes: 0, flops: 300e9, exps: 5e9 }, floors)).toEqual({ seconds: 3, bound: 'sgemm' });
  });

  it('makeRecord carries every required field and computes the rates from the median', () => {
    const r = makeRecord({
      kernel: 'step_logprob',
      impl: 'native',
      direction: 'fwd',
      dtype: 'float32',
      N: 4096,
      V: 32000,
      work: { elements: 1e9, activeElements: 5e8, bytes: 4e9, exps: 1e9 },
      summary: summary(0.5),
      floors,
      referenceSeconds: 20,
      peakExtraBytes: 1024,
      peakMethod: 'VmHWM',
    });
    for (const key of ['kernel', 'impl', 'direction', 'dtype', 'N', 'V', 'd', 'seconds', 'gelemPerSec', 'floorRatio', 'p20', 'p80', 'gbPerSec', 'peakExtraBytes', 'speedupVsReference']) {
      expect(r).toHaveProperty(key);
    }
    expect(r.seconds).toBe(0.5);
    expect(r.gelemPerSec).toBeCloseTo(2, 12);
    expect(r.gelemPerSecActive).toBeCloseTo(1, 12);
    expect(r.gbPerSec).toBeCloseTo(8, 12);
    // floor: max(4e9 B / 20e9 B/s = 0.2 s, 1e9 / 5e9 = 0.2 s) = 0.2 s (tie: the first, copy) → 0.2 / 0.5
    expect(r.floorSeconds).toBeCloseTo(0.2, 12);
    expect(r.floorRatio).toBeCloseTo(0.4, 12);
    expect(r.speedupVsReference).toBeCloseTo(40, 12);
    expect(r.activeFraction).toBeCloseTo(0.5, 12);
    expect(r.d).toBeNull();
    expect(JSON.parse(JSON.stringify(r))).toEqual(r); // plain JSON, nothing lost
  });

  it('a skipped record has null measurements and says why', () => {
    const r = makeRecord({ kernel: 'step_logprob', impl: 'reference', direction: 'fwd+bwd', dtype: 'float32', N: 4096, V: 151936, work: { elements: 1, bytes: 1 }, floors, skipped: '--quick' });
    expect([r.seconds, r.gelemPerSec, r.floorRatio, r.speedupVsReference, r.p20, r.p80]).toEqual([null, null, null, null, null, null]);
    expect(r.repeats).toBe(0);
    expect(r.skipped).toBe('--quick');
  });

  it('per-call kernels report µs/call and no floor ratio', () => {
    const r = makeRecord({ kernel: 'dpo_margin', impl: 'native', direction: 'fwd', dtype: 'float32', N: 8, work: { elements: 8, bytes: 160 }, summary: summary(12e-6), floors, perCall: true });
    expect(r.usPerCall).toBeCloseTo(12, 9);
    expect(r.floorRatio).toBeNull();
  });

  it('formatTable prints a header, one line per record, and "skipped" for skipped rows', () => {
    const recs = [
      makeRecord({ kernel: 'k', impl: 'native', direction: 'fwd', dtype: 'bfloat16', N: 2, V: 3, work: { elements: 6, bytes: 12 }, summary: summary(0.002), floors }),
      makeRecord({ kernel: 'k', impl: 'reference', direction: 'fwd', dtype: 'float32', N: 2, V: 3, work: { elements: 6, bytes: 12 }, skipped: 'why' }),
    ];
    const lines = formatTable(recs).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^kernel\s+impl\s+dir\s+dtype\s+shape/);
    expect(lines[2]).toContain('2.00 ms');
    expect(lines[2]).toContain('bf16');
    expect(lines[3]).toContain('skipped');
    expect(lines[3]).toContain('why');
  });

  it('jsonReport wraps records, targets and machine info in one parseable object', () => {
    const rec = makeRecord({ kernel: 'k', impl: 'native', direction: 'fwd', dtype: 'float32', work: { elements: 1, bytes: 1 }, summary: summary(1) });
    const parsed = JSON.parse(jsonReport({ records: [rec], targets: [], machine: { node: 'x' }, notes: ['n'] }, '2026-01-01T00:00:00Z'));
    expect(parsed.benchmark).toBe('kernels');
    expect(parsed.records).toEqual([rec]);
    expect(parsed.notes).toEqual(['n']);
  });
});

describe('targets', () => {
  const logits = (direction: 'fwd' | 'fwd+bwd', V: number, seconds: number, refSeconds?: number): BenchRecord =>
    makeRecord({ kernel: 'step_logprob', impl: 'native', direction, dtype: 'float32', N: 4096, V, work: { elements: 4096 * V, bytes: 1 }, summary: summary(seconds), referenceSeconds: refSeconds });

  it('logits targets: PASS needs both the Gelem/s and the ×reference threshold', () => {
    const e = 4096 * 32000;
    const recs = [
      logits('fwd', 32000, e / 3.5e9, (40 * e) / 3.5e9), // 3.5 Gelem/s, 40×: PASS
      logits('fwd+bwd', 32000, e / 1.5e9, (100 * e) / 1.5e9), // 1.5 < 2.0: MISS
      logits('fwd', 151936, (4096 * 151936) / 4e9), // no reference: UNMEASURED
    ];
    const lines = logitsTargets(recs);
    expect(lines.map((l) => l.verdict)).toEqual(['PASS', 'MISS', 'UNMEASURED', 'UNMEASURED']);
    expect(lines[0].text).toContain('3.50 Gelem/s');
    expect(lines[0].text).toContain('40.0×');
    expect(formatTargets(lines).split('\n')[1].startsWith('MISS')).toBe(true);
  });

  it('forward+backward is judged on the fused one-pass record, with the two-call and row-scale rates beside it', () => {
    const e = 4096 * 32000;
    const mk = (impl: 'native' | 'native-fused' | 'native-fused+scale', rate: number) =>
      makeRecord({ kernel: 'step_logprob', impl, direction: 'fwd+bwd', dtype: 'float32', N: 4096, V: 32000, work: { elements: e, bytes: 1 }, summary: summary(e / rate), referenceSeconds: (100 * e) / 1e9 });
    const lines = logitsTargets([mk('native', 1.7e9), mk('native-fused', 2.8e9), mk('native-fused+scale', 1.6e9)], 4096, [32000]);
    expect(lines[1].verdict).toBe('PASS');
    expect(lines[1].text).toContain('(native-fused): 2.80 Gelem/s');
    expect(lines[1].text).toContain('fwd then bwd 1.70, fused then row scale 1.60 Gelem/s');
    // Without a fused record (an older addon), the two-call record is judged.
    const old = logitsTargets([mk('native', 1.7e9)], 4096, [32000]);
    expect(old[1].verdict).toBe('MISS');
    expect(old[1].text).toContain('(native): 1.70 Gelem/s');
  });

  it('a measured miss stays MISS even when the other half was not measured', () => {
    const lines = logitsTargets([logits('fwd', 32000, (4096 * 32000) / 1e9)]);
    expect(lines[0].verdict).toBe('MISS');
  });

  it('hidden targets compare the sgemm ratio and the peak memory with ¼ of fp32 [N,V]', () => {
    const mk = (direction: 'fwd' | 'fwd+bwd', seconds: number, peak: number) =>
      makeRecord({ kernel: 'step_logprob_hidden', impl: 'native', direction, dtype: 'float32', N: 2048, d: 896, V: 32000, work: { elements: 1, bytes: 0, flops: 100e9 }, summary: summary(seconds), floors, peakExtraBytes: peak });
    const limit = 0.25 * 2048 * 32000 * 4;
    const lines = hiddenTargets([mk('fwd', 1.25, limit - 1), mk('fwd+bwd', 1.25, limit)]);
    // 100 GFLOP at 100 GFLOP/s = 1 s floor; 1 / 1.25 = 80% ≥ 70%
    expect(lines.map((l) => l.verdict)).toEqual(['PASS', 'MISS']);
    expect(lines[0].text).toContain('80% of the sgemm rate');
  });
});

describe('bench arguments', () => {
  it('parses kernels with --json, --quick, --all-active and --only', () => {
    expect(parseBenchArgs(['kernels'])).toEqual({ quick: false });
    expect(parseBenchArgs(['kernels', '--quick', '--json', 'out.json', '--all-active', '--only', 'logits,small'])).toEqual({
      quick: true,
      json: 'out.json',
      allActive: true,
      only: ['logits', 'small'],
    });
    expect(parseBenchArgs([])).toBe('help');
    expect(parseBenchArgs(['kernels', '--help'])).toBe('help');
  });

  it('rejects unknown benchmarks, options, sections and missing values', () => {
    expect(() => parseBenchArgs(['engine'])).toThrow(/unknown benchmark/);
    expect(() => parseBenchArgs(['kernels', '--fast'])).toThrow(/unknown option/);
    expect(() => parseBenchArgs(['kernels', '--json'])).toThrow(/needs a value/);
    expect(() => parseBenchArgs(['kernels', '--json', '--quick'])).toThrow(/needs a value/);
    expect(() => parseBenchArgs(['kernels', '--only', 'gpu'])).toThrow(/--only/);
  });
});

describe('CUDA path (fake addon: no GPU needed)', () => {
  it('skips with the reason when CUDA is not usable', async () => {
    const { benchCuda } = await import('../src/bench/cuda.js');
    const impls = { native: {}, api: {}, refs: {}, backends: { cpu: { usable: true, threads: 1, avx2: false, blas: 'x' }, cuda: { compiled: false, usable: false, devices: [], reason: 'no GPU here' } } };
    const records: BenchRecord[] = [];
    expect(benchCuda(impls as never, records, true, () => undefined)).toEqual(['CUDA: skipped (no GPU here)']);
    expect(records).toEqual([]);
  });

  it('uploads device tensors, calls the kernels with location "device", synchronises, and disposes everything', async () => {
    const { benchCuda } = await import('../src/bench/cuda.js');
    const live = new Set<object>();
    class FakeTensor {
      constructor(readonly o: Record<string, unknown>) {
        live.add(this);
      }
      download() {
        return new Float32Array(this.o.length as number);
      }
      dispose() {
        live.delete(this);
      }
    }
    const calls: Array<Record<string, unknown>> = [];
    const kernel = (o: Record<string, unknown>) => {
      calls.push(o);
      return {};
    };
    const impls = {
      native: { stepLogprobForward: kernel, stepLogprobBackward: kernel },
      api: {},
      refs: {},
      DeviceTensor: FakeTensor,
      floors: { floorDeviceCopy: () => ({ seconds: [0.001, 0.001], work: 2e9, checksum: 0, threads: 1, variant: 'fake' }) },
      backends: { cpu: { usable: true, threads: 1, avx2: false, blas: 'x' }, cuda: { compiled: true, usable: true, devices: ['Fake GPU'] } },
    };
    const records: BenchRecord[] = [];
    const notes = benchCuda(impls as never, records, true, () => undefined, [[300, 64]], 1 << 12);
    expect(notes[0]).toContain('Fake GPU');
    expect(notes.some((n) => n.includes('failed'))).toBe(false);
    expect(live.size).toBe(0);
    expect(calls.every((c) => c.location === 'device')).toBe(true);
    expect(calls.some((c) => c.inPlace === true)).toBe(true);
    const cuda = records.filter((r) => r.impl === 'cuda');
    expect(cuda.map((r) => `${r.dtype} ${r.direction}`)).toEqual(['bfloat16 fwd', 'bfloat16 fwd+bwd', 'float32 fwd', 'float32 fwd+bwd']);
    // floor: 2e9 bytes in 1 ms = 2e12 B/s; fp32 fwd+bwd moves 2·300·64·4 bytes
    const f = cuda[3];
    expect(f.floorSeconds).toBeCloseTo((2 * 300 * 64 * 4) / 2e12, 15);
    expect(records.find((r) => r.kernel === 'floor_device_copy')).toBeDefined();
  });
});

describe('floors without a GEMM rate', () => {
  it('GEMM work gets no floor until the sgemm rate is measured', () => {
    const { sgemmFlopsPerSec: _unused, ...noGemm } = floors;
    expect(floorFor({ elements: 1, bytes: 1, flops: 1e9 }, noGemm)).toBeUndefined();
    const r = makeRecord({ kernel: 'h', impl: 'native', direction: 'fwd', dtype: 'float32', work: { elements: 1, bytes: 1, flops: 1e9 }, summary: summary(1), floors: noGemm });
    expect(r.floorRatio).toBeNull();
    expect(floorFor({ elements: 1, bytes: 20e9 }, noGemm)?.bound).toBe('copy');
  });
});
