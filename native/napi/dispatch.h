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

// Upstream gradients, when given, must be finite (gradToken [n], gradStep [numSteps]).
inline void check_upstream_gradients(const float* grad_token, const float* grad_step, int64_t n, int64_t num_steps) {
  if (grad_token) check_finite("gradToken", grad_token, DType::F32, n);
  if (grad_step) check_finite("gradStep", grad_step, DType::F32, num_steps);
}

// The saved log-sum-exp and the upstream gradients of a step log-prob backward must be finite.
template <typename K>
void check_backward_upstream(const K& k) {
  check_finite("lse", k.lse, DType::F32, k.n);
  check_upstream_gradients(k.grad_token, k.grad_step, k.n, k.num_steps);
}

}  // namespace stepwise::napi
