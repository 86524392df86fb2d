/**
 * CUDA timings through DeviceTensors, only where backends().cuda.usable. The addon exposes no device-event
 * timing, so each sample is host wall-clock around: the kernel call(s) + a download of the [N] token log-probs,
 * which synchronises (cudaMemcpy to the host waits for the stream). The download moves N·4 bytes (16 KiB at
 * N=4096), well under 1% of any timed shape. The floor is a device-to-device copy timed the same way
 * (floorDeviceCopy: copy + cudaDeviceSynchronize). Inputs are bigger than L2 at every shape but 512×32000 bf16,
 * so no input rotation is done (documented in benchmarks/README.md).
 */
import { Rng } from '@stepwise/core';

import { makeLogitsCase, makePool, type BenchDType } from './data.js';
import type { FloorTiming, Impls } from './impls.js';
import { makeRecord, type BenchRecord, type Direction } from './report.js';
import { summarize, timeRepeats } from './stats.js';

type Obj = Record<string, unknown>;

export const CUDA_SHAPES: ReadonlyArray<[number, number]> = [[4096, 32000], [4096, 151936], [16384, 32000], [16384, 151936]];

export function benchCuda(
  impls: Impls,
  records: BenchRecord[],
  quick: boolean,
  log: (m: string) => void,
  // Overridable so the tests can drive this path with tiny shapes and a fake addon.
  shapes: ReadonlyArray<[number, number]> = quick ? CUDA_SHAPES.slice(0, 2) : CUDA_SHAPES,
  poolSize = 1 << 22,
): string[] {
  const cuda = impls.backends?.cuda;
  if (!cuda?.usable) return [`CUDA: skipped (${cuda?.reason ?? 'backends() unavailable'})`];
  const DT = impls.DeviceTensor;
  const fwdFn = impls.native.stepLogprobForward;
  const bwdFn = impls.native.stepLogprobBackward;
  const floorDev = (impls.floors as unknown as { floorDeviceCopy?: (b: number, r: number) => FloorTiming } | undefined)?.floorDeviceCopy;
  if (!DT || !fwdFn || !bwdFn) return ['CUDA: usable, but the addon lacks DeviceTensor or stepLogprob*: skipped'];
  const notes: string[] = [`CUDA devices: ${cuda.devices.join(', ')}`];
  let copyBytesPerSec: number | undefined;
  if (floorDev) {
    try {
      const t = floorDev(2 * 2 ** 30, quick ? 5 : 20);
      const summary = summarize(t.seconds);
      copyBytesPerSec = t.work / summary.median;
      records.push(makeRecord({ kernel: 'floor_device_copy', impl: 'floor', direction: 'n/a', dtype: 'float32', work: { elements: 0, bytes: t.work }, summary, note: 'cuda d2d 2 GiB' }));
      notes.push(`CUDA floor: device copy ${(copyBytesPerSec / 1e9).toFixed(0)} GB/s (read+write)`);
    } catch (err) {
      notes.push(`CUDA floor: device copy failed (${(err as Error).message}); CUDA rows have no ×floor`);
    }
  }
  // Device floors: copy only (the MUFU exp rate is not measured; see README), so the ratio is vs bandwidth.
  const floors = copyBytesPerSec ? { copyBytesPerSec, expPerSec: Infinity, sgemmFlopsPerSec: Infinity } : undefined;
  const pool = makePool(poolSize, new Rng('bench/pool'));
  for (const [n, v] of shapes) {
    for (const dtype of ['bfloat16', 'float32'] as BenchDType[]) {
      log(`cuda step_logprob ${dtype} N=${n} V=${v}`);
      const c = makeLogitsCase(n, v, dtype, pool, `cuda/${n}/${v}`);
      const dt = dtype === 'float32' ? 'f32' : 'bf16';
      const tensors: Array<{ dispose(): void }> = [];
      const dev = (o: Obj) => {
        const t = new DT(o);
        tensors.push(t);
        return t;
      };
      try {
        const logits = dev({ dtype: dt, length: n * v, data: c.logits });
        const common = {
          location: 'device', dtype: dt, n, v, numSteps: c.numSteps, logits,
          targets: dev({ dtype: 'i32', length: n, data: c.targets }),
          stepIndex: dev({ dtype: 'i32', length: n, data: c.stepIndex }),
        };
        const tokenLogp = dev({ dtype: 'f32', length: n });
        const outs = { tokenLogp, stepSum: dev({ dtype: 'f32', length: c.numSteps }), lse: dev({ dtype: 'f32', length: n }) };
        const gradStep = dev({ dtype: 'f32', length: c.numSteps, data: new Float32Array(c.numSteps).fill(-0.05) });
        const sync = () => void (tokenLogp as unknown as { download(): unknown }).download();
        const fwd = () => {
          fwdFn({ ...common, ...outs });
          sync();
        };
        const fwdBwd = () => {
          fwdFn({ ...common, ...outs });
          bwdFn({ ...common, lse: outs.lse, gradStep, inPlace: true });
          sync();
        };
        const size = dtype === 'float32' ? 4 : 2;
        for (const [dir, fn] of [['fwd', fwd], ['fwd+bwd', fwdBwd]] as Array<[Direction, () => void]>) {
          const summary = summarize(timeRepeats(fn, { warmup: 3, repeats: quick ? 10 : 50, budgetSeconds: 5 }));
          records.push(makeRecord({
            kernel: 'step_logprob', impl: 'cuda', direction: dir, dtype, N: n, V: v, summary, floors,
            work: { elements: n * v, activeElements: c.activeRows * v, bytes: (dir === 'fwd' ? 1 : 2) * n * v * size },
            note: 'wall-clock incl. launch + [N] download to synchronise; after the first call the in-place bwd leaves gradients in the logits, which later calls read (same bytes; an online softmax may rescale less often on them)',
          }));
        }
      } catch (err) {
        notes.push(`CUDA ${dtype} N=${n} V=${v}: failed: ${(err as Error).message}`);
      } finally {
        for (const t of tensors) t.dispose();
      }
    }
  }
  return notes;
}
