/**
 * What the benchmark times, resolved at run time from @stepwise/native:
 * - native: the raw addon exports (one options object per call, see native/napi/kernels_binding.cc). The raw
 *   layer is what every typed wrapper ends in, so large kernels time the same native code either way;
 * - reference / naive: the float64 JS references exported by the package (`stepLogprobRef`, ...).
 * Everything is looked up by name, so the benchmark builds and runs (printing "skipped: ... not exported")
 * while parts of the API are still missing, instead of failing to compile.
 */
import * as nativePkg from '@stepwise/native';

type Obj = Record<string, unknown>;
/** Options object in, result object out: the shape of every raw kernel export. */
export type RawFn = (options: Obj) => Obj;

export interface FloorTiming {
  seconds: number[];
  work: number;
  checksum: number;
  threads: number;
  variant: string;
}

export interface NativeFloors {
  floorCopy(bytes: number, reps: number): FloorTiming;
  floorExp(elemsPerThread: number, passes: number, reps: number): FloorTiming;
  floorSgemm(m: number, n: number, k: number, transB: boolean, reps: number): FloorTiming;
}

export interface NativeKernels {
  stepLogprobForward?: RawFn;
  stepLogprobBackward?: RawFn;
  stepLogprobHiddenForward?: RawFn;
  stepLogprobHiddenBackward?: RawFn;
  rewardWeightsForward?: RawFn;
  rewardWeightsBackward?: RawFn;
  dpoMargin?: RawFn;
}

export interface References {
  stepLogprobRef?: RawFn;
  stepLogprobBackwardRef?: (options: Obj) => unknown;
  naiveStepLogprob?: RawFn;
  rewardWeightsRef?: RawFn;
  rewardWeightsBackwardRef?: (options: Obj) => unknown;
  dpoMarginRef?: RawFn;
}

export interface Impls {
  floors?: NativeFloors;
  native: NativeKernels;
  refs: References;
  backends?: nativePkg.BackendsInfo;
  /** DeviceTensor constructor when the addon has one (CUDA timing). */
  DeviceTensor?: new (o: Obj) => Obj & { download(): unknown; dispose(): void };
  /** Why the addon could not be loaded, if it could not. */
  loadError?: string;
}

function fn<T>(from: Obj | undefined, ...names: string[]): T | undefined {
  for (const name of names) {
    const f = from?.[name];
    if (typeof f === 'function') return f as T;
  }
  return undefined;
}

/** Candidate export names for each reference (first found wins): the package may settle on either spelling. */
export function resolveImpls(): Impls {
  const pkg = nativePkg as unknown as Obj;
  const refs: References = {
    stepLogprobRef: fn(pkg, 'stepLogprobRef'),
    stepLogprobBackwardRef: fn(pkg, 'stepLogprobBackwardRef'),
    naiveStepLogprob: fn(pkg, 'naiveStepLogprob'),
    rewardWeightsRef: fn(pkg, 'rewardWeightsRef', 'rewardWeightsForwardRef'),
    rewardWeightsBackwardRef: fn(pkg, 'rewardWeightsBackwardRef'),
    dpoMarginRef: fn(pkg, 'dpoMarginRef'),
  };
  let raw: Obj;
  try {
    raw = nativePkg.loadBinding() as Obj;
  } catch (err) {
    return { native: {}, refs, loadError: (err as Error).message };
  }
  const floors =
    typeof raw.floorCopy === 'function' && typeof raw.floorExp === 'function' && typeof raw.floorSgemm === 'function'
      ? (raw as unknown as NativeFloors)
      : undefined;
  const native: NativeKernels = {};
  for (const k of [
    'stepLogprobForward',
    'stepLogprobBackward',
    'stepLogprobHiddenForward',
    'stepLogprobHiddenBackward',
    'rewardWeightsForward',
    'rewardWeightsBackward',
    'dpoMargin',
  ] as const) {
    native[k] = fn<RawFn>(raw, k);
  }
  return {
    floors,
    native,
    refs,
    backends: nativePkg.backends(),
    DeviceTensor: fn(raw, 'DeviceTensor'),
  };
}
