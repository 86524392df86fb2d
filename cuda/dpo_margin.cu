// (c) DPO margin loss, gradients and reductions on the GPU. Same formulas and double arithmetic as
// native/kernels/dpo_margin.cc. A per-pair kernel writes loss/gradients and one partial sum per block; a
// one-block kernel adds the partials in block order. The grid size depends only on the pair count, so the
// reductions are bitwise reproducible (no float atomics). One 40-byte copy brings the means back.
#include <cmath>

#include "gpu/gpu.h"
#include "internal.cuh"

namespace stepwise::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;
constexpr int kStats = 5;  // loss, correct, chosen reward, rejected reward, margin

__device__ __forceinline__ double log_sigmoid(double z) { return fmin(z, 0.0) - log1p(exp(-fabs(z))); }
__device__ __forceinline__ double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + exp(-z));
  const double e = exp(z);
  return e / (1.0 + e);
}

// Sums v over the block in a fixed tree; the result is valid in thread 0.
__device__ void block_sum(double (&v)[kStats]) {
  __shared__ double sh[kThreads / 32][kStats];
#pragma unroll
  for (int j = 0; j < kStats; ++j)
    for (int o = 16; o > 0; o >>= 1) v[j] += __shfl_xor_sync(0xffffffffu, v[j], o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0)
    for (int j = 0; j < kStats; ++j) sh[warp][j] = v[j];
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int j = 0; j < kStats; ++j) {
      double x = lane < kThreads / 32 ? sh[lane][j] : 0.0;
      for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
      v[j] = x;
    }
  }
}

__global__ void __launch_bounds__(kThreads) dpo_pairs_kernel(DpoMarginArgs a, double* partials) {
  double acc[kStats] = {0, 0, 0, 0, 0};
  const double beta = a.beta, eps = a.label_smoothing, scale = a.grad_scale;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < a.num_pairs; i += int64_t(gridDim.x) * kThreads) {
    const double cl = static_cast<double>(a.policy_chosen[i]) - a.ref_chosen[i];
    const double rl = static_cast<double>(a.policy_rejected[i]) - a.ref_rejected[i];
    const double h = cl - rl;
    double loss, dh;
    if (a.loss_type == PreferenceLoss::Ipo) {
      const double r = h - 1.0 / (2.0 * beta);
      loss = r * r;
      dh = 2.0 * r;
    } else {
      const double z = beta * h - (a.margin ? static_cast<double>(a.margin[i]) : 0.0);
      loss = -(1.0 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z);
      dh = beta * (-(1.0 - eps) * sigmoid(-z) + eps * sigmoid(z));  // no sigma(z) - 1 cancellation
    }
    a.loss[i] = static_cast<float>(loss);
    if (a.grad_chosen) a.grad_chosen[i] = static_cast<float>(scale * dh);
    if (a.grad_rejected) a.grad_rejected[i] = static_cast<float>(-scale * dh);
    const double cr = beta * cl, rr = beta * rl;
    acc[0] += loss;
    acc[1] += cr > rr ? 1.0 : 0.0;
    acc[2] += cr;
    acc[3] += rr;
    acc[4] += beta * h;
  }
  block_sum(acc);
  if (threadIdx.x == 0)
    for (int j = 0; j < kStats; ++j) partials[blockIdx.x * kStats + j] = acc[j];
}

__global__ void __launch_bounds__(kThreads) dpo_finish_kernel(const double* partials, int blocks, double inv_n,
                                                              double* out) {
  double acc[kStats] = {0, 0, 0, 0, 0};
  for (int b = threadIdx.x; b < blocks; b += kThreads)
    for (int j = 0; j < kStats; ++j) acc[j] += partials[b * kStats + j];
  block_sum(acc);
  if (threadIdx.x == 0)
    for (int j = 0; j < kStats; ++j) out[j] = acc[j] * inv_n;
}

}  // namespace

DpoReductions dpo_margin(const DpoMarginArgs& a) {
  DpoReductions r;
  if (a.num_pairs <= 0) return r;
  const int64_t want = (a.num_pairs + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(want < kMaxBlocks ? want : kMaxBlocks);
  ScratchLease lease = small_scratch(sizeof(double) * kStats * (blocks + 1));
  double* partials = static_cast<double*>(lease.ptr);
  double* out = partials + kStats * blocks;
  dpo_pairs_kernel<<<blocks, kThreads>>>(a, partials);
  check_launch("dpo_margin pairs kernel");
  dpo_finish_kernel<<<1, kThreads>>>(partials, blocks, 1.0 / static_cast<double>(a.num_pairs), out);
  check_launch("dpo_margin finish kernel");
  double host[kStats];
  // The synchronous copy also surfaces any execution error of the two kernels.
  STEPWISE_CUDA_CHECK(cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost));
  r.mean_loss = host[0];
  r.reward_accuracy = host[1];
  r.chosen_reward = host[2];
  r.rejected_reward = host[3];
  r.margin = host[4];
  return r;
}

}  // namespace stepwise::gpu
