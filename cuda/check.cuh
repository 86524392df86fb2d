// CUDA error checking that throws (never aborts): the N-API layer turns std::runtime_error into a JS Error.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace stepwise::gpu {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// After a kernel launch: the launch error now (bad configuration), execution errors surface at the next sync.
inline void check_launch(const char* kernel) {
  check_cuda(cudaGetLastError(), kernel);
}

}  // namespace stepwise::gpu

#define STEPWISE_CUDA_CHECK(call) ::stepwise::gpu::check_cuda((call), #call)
