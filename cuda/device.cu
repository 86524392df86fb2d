// Device discovery and memory for the GPU interface (native/gpu/gpu.h). With cudart_static the addon loads on
// machines without a driver; there cudaGetDeviceCount fails and available() reports why.
#include <map>
#include <mutex>
#include <string>

#include "check.cuh"
#include "gpu/gpu.h"
#include "internal.cuh"

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

// ---- scratch (internal.cuh) ----------------------------------------------------------------------------------
namespace {
struct ScratchCache {
  std::mutex mu;
  std::map<int, std::pair<void*, size_t>> per_device;  // device -> (buffer, capacity); never shrinks
};
ScratchCache& scratch_cache() {
  static ScratchCache* c = new ScratchCache;  // leaked on purpose: no cudaFree during static destruction
  return *c;
}
}  // namespace

ScratchLease::~ScratchLease() { delete static_cast<std::unique_lock<std::mutex>*>(lock); }

ScratchLease small_scratch(size_t bytes) {
  ScratchCache& c = scratch_cache();
  auto* lk = new std::unique_lock<std::mutex>(c.mu);
  try {
    int dev = 0;
    STEPWISE_CUDA_CHECK(cudaGetDevice(&dev));
    auto& slot = c.per_device[dev];
    if (slot.second < bytes) {
      // Grow geometrically so a slowly growing batch does not reallocate every call. cudaFree synchronises,
      // so kernels still using the old buffer have finished.
      if (slot.first) STEPWISE_CUDA_CHECK(cudaFree(slot.first));
      slot.first = nullptr;
      slot.second = 0;
      size_t cap = bytes < 4096 ? 4096 : bytes + bytes / 2;
      STEPWISE_CUDA_CHECK(cudaMalloc(&slot.first, cap));
      slot.second = cap;
    }
    return ScratchLease(slot.first, lk);
  } catch (...) {
    delete lk;
    throw;
  }
}

DeviceBuffer::DeviceBuffer(size_t bytes) {
  if (bytes) STEPWISE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // a destructor must not throw; a failed free leaves the error for the next check
}

}  // namespace stepwise::gpu
