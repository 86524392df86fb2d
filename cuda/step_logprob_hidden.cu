// (a') Step log-prob from hidden states and the LM head on the GPU, logits never stored whole.
//
// Only the valid (non-ignored) tokens are computed: their indices are compacted once, so prompt tokens cost
// no GEMM work (kernels.md §2). The valid rows are processed in chunks of C rows:
//   forward:  X_c = gather(X)  ->  Z_c = X_c W^T (fp32, [C, V])  ->  row forward kernel on Z_c
//   backward: X_c  ->  Z_c = X_c W^T (recomputed)  ->  dZ_c = g (onehot - softmax) in place on Z_c
//             ->  dX_c = dZ_c W  (scattered into dhidden)  ->  dW (+)= dZ_c^T X_c
// The contract separates forward and backward (the per-token upstream gradient is known only after (b) and
// (c)), so the backward recomputes Z_c: 8NdV FLOPs instead of 6NdV. Extra device memory is C*V*4 bytes for
// Z_c plus O(C*d) and O(N); C defaults to what fits kChunkBudget. Per-row results come from the same row
// kernels as the from-logits path, so both paths agree bit for bit on identical logits.
#include <algorithm>
#include <vector>

#include "gpu/gpu.h"
#include "internal.cuh"

namespace stepwise::gpu {
namespace {

// Default bound on the chunk's logits (fp32) plus, with cuBLAS and bf16, its bf16 copy. 256 MiB holds 441
// rows at V = 152K: wide enough for efficient GEMMs, small next to the weights and their fp32 gradient.
constexpr int64_t kChunkBudget = int64_t(256) << 20;

int64_t chunk_rows_for(int64_t requested, int64_t valid, int64_t v, bool bf16_copy) {
  if (valid <= 0) return 0;
  int64_t c = requested;
  if (c <= 0) {
    c = kChunkBudget / std::max<int64_t>(1, v * (bf16_copy ? 6 : 4));
    if (c >= 128) c -= c % 128;  // whole 128-row GEMM tiles
    c = std::max<int64_t>(c, 1);
  }
  return std::min(c, valid);
}

template <class T>
__global__ void gather_rows_kernel(const T* __restrict__ src, const int32_t* __restrict__ rows, int64_t count,
                                   int64_t d, T* __restrict__ dst) {
  const int64_t total = count * d;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / d, c = i - r * d;
    dst[i] = src[static_cast<int64_t>(rows[r]) * d + c];
  }
}

__global__ void scatter_rows_kernel(const float* __restrict__ src, const int32_t* __restrict__ rows, int64_t count,
                                    int64_t d, float* __restrict__ dst) {
  const int64_t total = count * d;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / d, c = i - r * d;
    dst[static_cast<int64_t>(rows[r]) * d + c] = src[i];
  }
}

__global__ void to_bf16_kernel(const float* __restrict__ src, int64_t count, uint16_t* __restrict__ dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_f32<uint16_t>(src[i]);
}

unsigned grid_1d(int64_t work) {
  const int64_t b = (work + 255) / 256;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 8192));
}

void gather_rows(const void* src, DType dt, const int32_t* rows, int64_t count, int64_t d, void* dst) {
  if (count <= 0 || d <= 0) return;
  if (dt == DType::BF16)
    gather_rows_kernel<<<grid_1d(count * d), 256>>>(static_cast<const uint16_t*>(src), rows, count, d,
                                                   static_cast<uint16_t*>(dst));
  else
    gather_rows_kernel<<<grid_1d(count * d), 256>>>(static_cast<const float*>(src), rows, count, d,
                                                   static_cast<float*>(dst));
  check_launch("gather_rows kernel");
}

// Indices of the tokens with target >= 0, in token order, on the device. One small synchronous copy of the
// targets: the row count decides the chunking, so the host needs it anyway.
std::vector<int32_t> valid_rows(const int32_t* targets_dev, int64_t n) {
  std::vector<int32_t> tg(static_cast<size_t>(n)), rows;
  STEPWISE_CUDA_CHECK(cudaMemcpy(tg.data(), targets_dev, n * sizeof(int32_t), cudaMemcpyDeviceToHost));
  rows.reserve(tg.size());
  for (int64_t t = 0; t < n; ++t)
    if (tg[t] >= 0) rows.push_back(static_cast<int32_t>(t));
  return rows;
}

}  // namespace

void step_logprob_hidden_forward(const StepLogprobHiddenForward& a) {
  if (a.n > 0x7fffffffLL) throw std::runtime_error("step_logprob_hidden_forward: more than 2^31-1 tokens");
  const bool steps = a.step_sum != nullptr && a.num_steps > 0;
  if (a.n <= 0) {
    if (steps) STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.step_sum, 0, a.num_steps * sizeof(float)));
    return;
  }
  // Ignored tokens (and any row no chunk visits) read 0.
  STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.token_logp, 0, a.n * sizeof(float)));
  STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.lse, 0, a.n * sizeof(float)));
  if (a.entropy) STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.entropy, 0, a.n * sizeof(float)));
  if (a.argmax_hit) STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.argmax_hit, 0, a.n));
  if (steps && a.step_index == nullptr) STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.step_sum, 0, a.num_steps * sizeof(float)));

  const std::vector<int32_t> rows = valid_rows(a.targets, a.n);
  const int64_t nv = static_cast<int64_t>(rows.size());
  const int64_t chunk = chunk_rows_for(a.chunk_rows, nv, a.v, false);
  const size_t esz = dtype_size(a.dtype);
  DeviceBuffer rows_dev(rows.size() * sizeof(int32_t));
  if (nv) STEPWISE_CUDA_CHECK(cudaMemcpy(rows_dev.as<int32_t>(), rows.data(), nv * sizeof(int32_t), cudaMemcpyHostToDevice));
  DeviceBuffer xc(static_cast<size_t>(chunk * a.d) * esz);
  DeviceBuffer logits(static_cast<size_t>(chunk * a.v) * sizeof(float));

  const bool seg = steps && a.step_index != nullptr;
  ScratchLease lease = small_scratch(seg ? segment_sum_scratch_bytes(a.num_steps) : 1);
  SegmentSum s{};
  if (seg) s = segment_sum_begin(lease.ptr, a.num_steps);
  for (int64_t c0 = 0; c0 < nv; c0 += chunk) {
    const int64_t r = std::min(chunk, nv - c0);
    const int32_t* map = rows_dev.as<int32_t>() + c0;
    gather_rows(a.hidden, a.dtype, map, r, a.d, xc.as<void>());
    // Z_c[r, V] = X_c[r, d] W[V, d]^T
    gemm(GemmArgs{xc.as<void>(), a.dtype, false, a.weight, a.dtype, true, logits.as<float>(), r, a.v, a.d, 1.f, 0.f});
    RowForwardLaunch f{logits.as<void>(), DType::F32, r,          a.v,     map,          a.targets, a.step_index, a.token_logp,
                       a.lse,             a.entropy,  a.argmax_hit, s.absmax_bits, s.count, false};
    launch_row_forward(f);
  }
  if (seg) segment_sum_finish(s, a.token_logp, a.step_index, a.n, a.step_sum);
  // Surface execution errors here, while the scratch is still ours (the buffers' cudaFree would hide them).
  STEPWISE_CUDA_CHECK(cudaDeviceSynchronize());
}

void step_logprob_hidden_backward(const StepLogprobHiddenBackward& a) {
  if (a.n > 0x7fffffffLL) throw std::runtime_error("step_logprob_hidden_backward: more than 2^31-1 tokens");
  if (a.dhidden && a.n > 0) STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.dhidden, 0, a.n * a.d * sizeof(float)));
  const std::vector<int32_t> rows = a.n > 0 ? valid_rows(a.targets, a.n) : std::vector<int32_t>();
  const int64_t nv = static_cast<int64_t>(rows.size());
  if (a.dweight && !a.accumulate_dweight && nv == 0)  // no chunk will overwrite it
    STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.dweight, 0, a.v * a.d * sizeof(float)));
  if (nv == 0 || (!a.dhidden && !a.dweight)) return;

  // cuBLAS multiplies only like-typed operands: with bf16 weights dZ_c gets a bf16 copy (as Liger and QuACK
  // store it); the own GEMM reads the fp32 dZ_c directly.
  const bool bf16_copy = gemm_needs_same_types() && a.dtype == DType::BF16;
  const int64_t chunk = chunk_rows_for(a.chunk_rows, nv, a.v, bf16_copy);
  const size_t esz = dtype_size(a.dtype);
  DeviceBuffer rows_dev(rows.size() * sizeof(int32_t));
  STEPWISE_CUDA_CHECK(cudaMemcpy(rows_dev.as<int32_t>(), rows.data(), nv * sizeof(int32_t), cudaMemcpyHostToDevice));
  DeviceBuffer xc(static_cast<size_t>(chunk * a.d) * esz);
  DeviceBuffer logits(static_cast<size_t>(chunk * a.v) * sizeof(float));
  DeviceBuffer dl16(bf16_copy ? static_cast<size_t>(chunk * a.v) * 2 : 0);
  DeviceBuffer dxc(a.dhidden ? static_cast<size_t>(chunk * a.d) * sizeof(float) : 0);

  bool first = true;
  for (int64_t c0 = 0; c0 < nv; c0 += chunk) {
    const int64_t r = std::min(chunk, nv - c0);
    const int32_t* map = rows_dev.as<int32_t>() + c0;
    gather_rows(a.hidden, a.dtype, map, r, a.d, xc.as<void>());
    gemm(GemmArgs{xc.as<void>(), a.dtype, false, a.weight, a.dtype, true, logits.as<float>(), r, a.v, a.d, 1.f, 0.f});
    // dZ_c overwrites Z_c: the saved lse makes this one read + one write of the chunk.
    RowBackwardLaunch b{logits.as<void>(), logits.as<void>(), DType::F32, r,           a.v,         map,
                        a.targets,         a.step_index,      a.lse,      a.grad_token, a.grad_step, false};
    launch_row_backward(b);
    const void* dz = logits.as<void>();
    DType dz_type = DType::F32;
    if (bf16_copy) {
      to_bf16_kernel<<<grid_1d(r * a.v), 256>>>(logits.as<float>(), r * a.v, dl16.as<uint16_t>());
      check_launch("to_bf16 kernel");
      dz = dl16.as<void>();
      dz_type = DType::BF16;
    }
    if (a.dhidden) {
      // dX_c[r, d] = dZ_c[r, V] W[V, d]
      gemm(GemmArgs{dz, dz_type, false, a.weight, a.dtype, false, dxc.as<float>(), r, a.d, a.v, 1.f, 0.f});
      scatter_rows_kernel<<<grid_1d(r * a.d), 256>>>(dxc.as<float>(), map, r, a.d, a.dhidden);
      check_launch("scatter_rows kernel");
    }
    if (a.dweight) {
      // dW[V, d] (+)= dZ_c^T X_c: dZ_c is stored [r, V] = logical [K, M], hence a_trans.
      const float beta = (first && !a.accumulate_dweight) ? 0.f : 1.f;
      gemm(GemmArgs{dz, dz_type, true, xc.as<void>(), a.dtype, false, a.dweight, a.v, a.d, r, 1.f, beta});
    }
    first = false;
  }
  STEPWISE_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace stepwise::gpu
