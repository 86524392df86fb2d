// Helpers shared by the kernel bindings: run a kernel on the device its arguments live on, and check the
// upstream inputs every backward takes.
#pragma once
#include "args.h"
#include "gpu/gpu.h"

namespace stepwise::napi {

// CPU kernel or its CUDA twin (gpu.h), chosen by where the call's arguments live.
template <typename K, typename R>
R run_on(bool device, int dev, R (*cpu)(const K&), R (*gpu_kernel)(const K&), const K& k) {
  if (!device) return cpu(k);
  gpu::set_device(dev);
  return gpu_kernel(k);
}

// The saved log-sum-exp and the upstream gradients of a step log-prob backward must be finite.
template <typename K>
void check_backward_upstream(const K& k) {
  check_finite("lse", k.lse, DType::F32, k.n);
  if (k.grad_token) check_finite("gradToken", k.grad_token, DType::F32, k.n);
  if (k.grad_step) check_finite("gradStep", k.grad_step, DType::F32, k.num_steps);
}

}  // namespace stepwise::napi
