// Device discovery and memory for the GPU interface (native/gpu/gpu.h). With cudart_static the addon loads on
// machines without a driver; there cudaGetDeviceCount fails and available() reports why.
#include <string>

#include "check.cuh"
#include "gpu/gpu.h"

namespace stepwise::gpu {

bool compiled() { return true; }

bool available(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  STEPWISE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void set_device(int device) { STEPWISE_CUDA_CHECK(cudaSetDevice(device)); }

void* alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  STEPWISE_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void free(void* p) {
  if (p) STEPWISE_CUDA_CHECK(cudaFree(p));
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) STEPWISE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) STEPWISE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_device(void* dst, const void* src, size_t bytes) {
  if (bytes) STEPWISE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void synchronize() { STEPWISE_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace stepwise::gpu
