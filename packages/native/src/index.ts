export * from './errors.js';
export { backends, loadBinding, candidatePaths, type BackendsInfo } from './binding.js';
export { Bf16Array, type FloatArray, bf16BitsToF32, f32ToBf16Bits, roundToBf16, toFloat } from './bf16.js';
export { DeviceTensor, type DeviceDtype, type HostArray } from './device.js';
export * from './kernels.js';
export * from './hidden.js';
export * from './losses.js';
export * as reference from './reference/index.js';
export { naiveStepLogprob } from './reference/step-logprob.js';
