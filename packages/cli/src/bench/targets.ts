/**
 * The done-when targets of the kernel issue, checked against the records of one run. A report, never an exit
 * failure: noisy shared machines miss targets that a quiet one meets, and the lead re-runs at the end.
 */
import type { BenchRecord } from './report.js';

export type Verdict = 'PASS' | 'MISS' | 'UNMEASURED';

export interface TargetLine {
  verdict: Verdict;
  text: string;
}

export const LOGITS_TARGETS = { fwd: 3.0, 'fwd+bwd': 2.0, speedupVsReference: 30 } as const;
export const HIDDEN_TARGETS = { floorRatio: 0.7, peakFractionOfLogits: 0.25 } as const;

const find = (records: readonly BenchRecord[], p: (r: BenchRecord) => boolean) =>
  records.find((r) => p(r) && r.skipped === undefined && r.seconds !== null);

function combine(checks: Array<boolean | undefined>): Verdict {
  if (checks.some((c) => c === undefined)) return checks.some((c) => c === false) ? 'MISS' : 'UNMEASURED';
  return checks.every(Boolean) ? 'PASS' : 'MISS';
}

/** fp32, N=4096, V ∈ {32000, 151936}: fwd ≥ 3.0 and fwd+bwd-in-place ≥ 2.0 Gelem/s, each ≥ 30× the JS reference. */
export function logitsTargets(records: readonly BenchRecord[], n = 4096, vs = [32000, 151936]): TargetLine[] {
  const out: TargetLine[] = [];
  for (const v of vs) {
    for (const dir of ['fwd', 'fwd+bwd'] as const) {
      const pick = (impl: string) =>
        find(records, (x) => x.kernel === 'step_logprob' && x.impl === impl && x.direction === dir && x.dtype === 'float32' && x.N === n && x.V === v);
      // forward+backward: the fused one-pass kernel is the implementation of "forward + g·(p − onehot) written in
      // place" (kernels.md §1.6); the two-call and row-scale variants are reported beside it.
      const twoCall = dir === 'fwd+bwd' ? pick('native') : undefined;
      const scaled = dir === 'fwd+bwd' ? pick('native-fused+scale') : undefined;
      const r = dir === 'fwd+bwd' ? (pick('native-fused') ?? twoCall) : pick('native');
      const want = LOGITS_TARGETS[dir];
      const g = r?.gelemPerSec ?? undefined;
      const s = r?.speedupVsReference ?? undefined;
      const verdict = combine([g === undefined ? undefined : g >= want, s === undefined ? undefined : s >= LOGITS_TARGETS.speedupVsReference]);
      const gTxt = g === undefined ? 'not measured' : `${g.toFixed(2)} Gelem/s (active rows only ${r?.gelemPerSecActive?.toFixed(2) ?? '-'})`;
      const sTxt = s === undefined ? 'not measured (reference skipped or missing)' : `${s.toFixed(1)}×`;
      out.push({
        verdict,
        text:
          `step_logprob fp32 N=${n} V=${v} ${dir === 'fwd' ? 'forward' : `forward+backward in place (${r?.impl ?? 'native-fused'})`}: ${gTxt} (target ≥ ${want}); ×reference ${sTxt} (target ≥ ${LOGITS_TARGETS.speedupVsReference}×)` +
          (dir === 'fwd+bwd' && r !== twoCall
            ? `; beside it: fwd then bwd ${twoCall?.gelemPerSec?.toFixed(2) ?? '-'}, fused then row scale ${scaled?.gelemPerSec?.toFixed(2) ?? '-'} Gelem/s`
            : ''),
      });
    }
  }
  return out;
}

/** From hidden, N=2048, d=896, V=32000: ≥ 70% of the sgemm rate, peak memory growth < ¼ of a materialised fp32 [N,V]. */
export function hiddenTargets(records: readonly BenchRecord[], n = 2048, d = 896, v = 32000): TargetLine[] {
  const out: TargetLine[] = [];
  const limit = HIDDEN_TARGETS.peakFractionOfLogits * n * v * 4;
  for (const dir of ['fwd', 'fwd+bwd'] as const) {
    const r = find(records, (x) => x.kernel === 'step_logprob_hidden' && x.impl === 'native' && x.direction === dir && x.N === n && x.d === d && x.V === v);
    const f = r?.floorRatio ?? undefined;
    const peak = r?.peakExtraBytes ?? undefined;
    const verdict = combine([f === undefined ? undefined : f >= HIDDEN_TARGETS.floorRatio, peak === undefined ? undefined : peak < limit]);
    // With ignored prompt rows the kernel skips their GEMM work; the active-rows figure is the strict one.
    const active = r?.activeFraction ?? 1;
    const fTxt =
      f === undefined
        ? 'not measured'
        : `${(100 * f).toFixed(0)}% of the sgemm rate (${r?.gflopPerSec?.toFixed(1)} GFLOP/s over all N rows; ${(100 * f * active).toFixed(0)}% counting only the ${(100 * active).toFixed(0)}% non-ignored rows)`;
    const pTxt = peak === undefined ? 'peak memory not measured' : `peak growth ${(peak / 2 ** 20).toFixed(1)} MiB`;
    out.push({
      verdict,
      text: `step_logprob_hidden fp32 N=${n} d=${d} V=${v} ${dir}: ${fTxt} (target ≥ ${100 * HIDDEN_TARGETS.floorRatio}%); ${pTxt} (target < ${(limit / 2 ** 20).toFixed(1)} MiB = ¼ of fp32 [N,V])`,
    });
  }
  return out;
}

export function formatTargets(lines: readonly TargetLine[]): string {
  return lines.map((l) => `${l.verdict.padEnd(10)} ${l.text}`).join('\n');
}
