// (b) Full-Step-DPO reward weighting on the GPU: per-segment softmax of scale_s * r and its backward.
// The data are kilobytes, so the floor is launch latency (kernels.md §2): one launch each way, one warp per
// segment (segments are short and ragged; a warp loops over long ones), double arithmetic like the CPU
// version, and warp-shuffle reductions in a fixed order so the result is bitwise reproducible.
#include <cmath>

#include "gpu/gpu.h"
#include "internal.cuh"

namespace stepwise::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kSegPerBlock = kThreads / 32;

__device__ __forceinline__ double warp_max(double x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ double warp_sum(double x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__global__ void __launch_bounds__(kThreads) reward_forward_kernel(RewardWeightsForward a) {
  const int64_t s = blockIdx.x * int64_t(kSegPerBlock) + (threadIdx.x >> 5);
  if (s >= a.num_segments) return;  // whole warp leaves together
  const int lane = threadIdx.x & 31;
  const int64_t b = a.offsets[s], e = a.offsets[s + 1];
  if (e <= b) return;
  const double k = a.scale[s];
  double m = -INFINITY;
  for (int64_t i = b + lane; i < e; i += 32) m = fmax(m, k * static_cast<double>(a.rewards[i]));
  m = warp_max(m);
  double sum = 0;
  for (int64_t i = b + lane; i < e; i += 32) sum += exp(k * static_cast<double>(a.rewards[i]) - m);
  const double inv = 1.0 / warp_sum(sum);
  for (int64_t i = b + lane; i < e; i += 32)
    a.weights[i] = static_cast<float>(exp(k * static_cast<double>(a.rewards[i]) - m) * inv);
}

__global__ void __launch_bounds__(kThreads) reward_backward_kernel(RewardWeightsBackward a) {
  const int64_t s = blockIdx.x * int64_t(kSegPerBlock) + (threadIdx.x >> 5);
  if (s >= a.num_segments) return;
  const int lane = threadIdx.x & 31;
  const int64_t b = a.offsets[s], e = a.offsets[s + 1];
  if (e <= b) return;
  const double k = a.scale[s];
  double dot = 0;
  for (int64_t i = b + lane; i < e; i += 32) dot += static_cast<double>(a.weights[i]) * a.grad_weights[i];
  dot = warp_sum(dot);
  // d r_i = k * w_i * (g_i - sum_j w_j g_j)
  for (int64_t i = b + lane; i < e; i += 32)
    a.grad_rewards[i] = static_cast<float>(k * a.weights[i] * (static_cast<double>(a.grad_weights[i]) - dot));
}

unsigned blocks_for(int64_t segments) {
  const int64_t b = (segments + kSegPerBlock - 1) / kSegPerBlock;
  if (b > 0x7fffffffLL) throw std::runtime_error("reward_weights: too many segments");
  return static_cast<unsigned>(b);
}

}  // namespace

void reward_weights_forward(const RewardWeightsForward& a) {
  if (a.num_segments <= 0 || a.total <= 0) return;
  reward_forward_kernel<<<blocks_for(a.num_segments), kThreads>>>(a);
  check_launch("reward_weights_forward kernel");
}

void reward_weights_backward(const RewardWeightsBackward& a) {
  if (a.num_segments <= 0 || a.total <= 0) return;
  reward_backward_kernel<<<blocks_for(a.num_segments), kThreads>>>(a);
  check_launch("reward_weights_backward kernel");
}

}  // namespace stepwise::gpu
