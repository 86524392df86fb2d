/**
 * What the benchmark times, resolved at run time from @stepwise/native:
 * - native: the raw addon exports (one options object per call, see native/napi/kernels_binding.cc). The raw
 *   layer is what every typed wrapper ends in, so large kernels time the same native code either way;
 * - api: the typed, validating TS API (`rewardWeights`, `dpoMargin`, ...): what users call. Timed apart for the
 *   µs-scale kernels, where its JS-side checks and allocations are a visible share of a call;
 * - reference / naive: the float64 JS references (`reference.stepLogprobRef`, ..., and `naiveStepLogprob`).
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
  stepLogprobForwardGrad?: RawFn;
  stepLogprobGradScale?: RawFn;
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

/** Typed API functions: (input, options) => result. */
export type ApiFn = (input: Obj, options?: Obj) => unknown;

export interface TypedApi {
  rewardWeights?: ApiFn;
  rewardWeightsBackward?: ApiFn;
  dpoMargin?: ApiFn;
}

export interface Impls {
  floors?: NativeFloors;
  native: NativeKernels;
  api: TypedApi;
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
  // References live in the `reference` namespace export; a top-level export of the same name also counts.
  const ns = (typeof pkg.reference === 'object' && pkg.reference !== null ? pkg.reference : {}) as Obj;
  const ref = <T>(...names: string[]) => fn<T>(ns, ...names) ?? fn<T>(pkg, ...names);
  const refs: References = {
    stepLogprobRef: ref('stepLogprobRef'),
    stepLogprobBackwardRef: ref('stepLogprobBackwardRef'),
    naiveStepLogprob: ref('naiveStepLogprob'),
    rewardWeightsRef: ref('rewardWeightsRef', 'rewardWeightsForwardRef'),
    rewardWeightsBackwardRef: ref('rewardWeightsBackwardRef'),
    dpoMarginRef: ref('dpoMarginRef'),
  };
  const api: TypedApi = {
    rewardWeights: fn(pkg, 'rewardWeights'),
    rewardWeightsBackward: fn(pkg, 'rewardWeightsBackward'),
    dpoMargin: fn(pkg, 'dpoMargin'),
  };
  let raw: Obj;
  try {
    raw = nativePkg.loadBinding() as Obj;
  } catch (err) {
    return { native: {}, api, refs, loadError: (err as Error).message };
  }
  const floors =
    typeof raw.floorCopy === 'function' && typeof raw.floorExp === 'function' && typeof raw.floorSgemm === 'function'
      ? (raw as unknown as NativeFloors)
      : undefined;
  const native: NativeKernels = {};
  for (const k of [
    'stepLogprobForward',
    'stepLogprobBackward',
    'stepLogprobForwardGrad',
    'stepLogprobGradScale',
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
    api,
    refs,
    backends: nativePkg.backends(),
    DeviceTensor: fn(raw, 'DeviceTensor'),
  };
}
