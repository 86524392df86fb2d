// Internal helpers shared by the CUDA kernel files (not part of the gpu.h contract): dtype loads, the exp
// variants, warp reductions, device scratch and the launchers that step_logprob_hidden.cu reuses.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "check.cuh"
#include "kernels/kernels.h"

namespace stepwise::gpu {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- element access: bf16 is handled as raw uint16 bits (the upper half of an fp32), so a 128-bit load of
// 8 bf16 unpacks with shifts and masks only, no conversion instructions -----------------------------------------
__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }
template <class T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <>
__device__ __forceinline__ uint16_t from_f32<uint16_t>(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));  // round to nearest even, as the CPU f32_to_bf16
}

// 16-byte vectors: 4 fp32 or 8 bf16 per uint4. Element j of a bf16 vector is the low half of word j/2 when
// j is even (little-endian), the high half when odd.
template <class T>
struct Vec16;
template <>
struct Vec16<float> {
  static constexpr int kN = 4;
  static __device__ __forceinline__ void unpack(const uint4& u, float* x) {
    x[0] = __uint_as_float(u.x), x[1] = __uint_as_float(u.y), x[2] = __uint_as_float(u.z), x[3] = __uint_as_float(u.w);
  }
  static __device__ __forceinline__ uint4 pack(const float* x) {
    return make_uint4(__float_as_uint(x[0]), __float_as_uint(x[1]), __float_as_uint(x[2]), __float_as_uint(x[3]));
  }
};
template <>
struct Vec16<uint16_t> {
  static constexpr int kN = 8;
  static __device__ __forceinline__ void unpack(const uint4& u, float* x) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      x[2 * i] = __uint_as_float(w[i] << 16);
      x[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  static __device__ __forceinline__ uint4 pack(const float* x) {
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      w[i] = static_cast<uint32_t>(from_f32<uint16_t>(x[2 * i])) |
             (static_cast<uint32_t>(from_f32<uint16_t>(x[2 * i + 1])) << 16);
    return make_uint4(w[0], w[1], w[2], w[3]);
  }
};

// Elements before the first 16-byte boundary of a row (rows of odd length are not 16-byte aligned).
template <class T>
__device__ __forceinline__ int64_t head_elems(const T* p, int64_t len) {
  const int mis = static_cast<int>((reinterpret_cast<uintptr_t>(p) & 15u) / sizeof(T));
  const int64_t h = mis ? (Vec16<T>::kN - mis) : 0;
  return h < len ? h : len;
}

// 2^x on the MUFU unit (ex2.approx, ~2 ulp, flushes denormal results to 0, which only affects p < 1e-38).
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// ---- device scratch ----------------------------------------------------------------------------------------
// A grow-only buffer per device for the small kernels (step accumulators, reduction partials), so a call does
// not pay cudaMalloc/cudaFree. The returned lock must be held until the caller has enqueued all work that
// uses the buffer: every call goes to the legacy default stream, so work enqueued under the lock runs in
// order and a later caller's kernels cannot interleave with it.
struct ScratchLease {
  void* ptr;
  void* lock;  // opaque std::unique_lock<std::mutex>*
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ScratchLease(void* p, void* l) : ptr(p), lock(l) {}
  ~ScratchLease();
};
ScratchLease small_scratch(size_t bytes);

// A cudaMalloc'ed buffer freed on scope exit (cudaFree synchronises, so queued kernels finish first).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

// ---- step log-prob row kernels (step_logprob.cu), reused by the from-hidden path ---------------------------
// Rows i in [0, rows) of `logits` (row stride v) are scored; row_map (nullable) maps row i to the token index
// t used for targets / step_index / outputs (the from-hidden path scores a compacted chunk). Outputs of the
// tokens covered are written; the caller zeroes ignored tokens' outputs beforehand.
struct RowForwardLaunch {
  const void* logits;
  DType dtype;
  int64_t rows, v;
  const int32_t* row_map;  // nullable
  const int32_t* targets;
  const int32_t* step_index;  // nullable
  float* token_logp;
  float* lse;
  float* entropy;       // nullable
  uint8_t* argmax_hit;  // nullable
  // Per-step order-independent statistics for the deterministic segment sum (nullable when no steps).
  unsigned int* step_absmax_bits;
  unsigned int* step_count;
  bool exact;
};
void launch_row_forward(const RowForwardLaunch& a);

struct RowBackwardLaunch {
  const void* logits;
  void* dlogits;  // may equal logits
  DType dtype;
  int64_t rows, v;
  const int32_t* row_map;
  const int32_t* targets;
  const int32_t* step_index;
  const float* lse;
  const float* grad_token;
  const float* grad_step;
  bool exact;
  // true: ignore the upstream gradients and use g_t = -1 on every non-ignored row, which writes the unscaled
  // softmax - onehot of step_logprob_forward_grad.
  bool unscaled = false;
};
void launch_row_backward(const RowBackwardLaunch& a);

// The deterministic segment sum: allocate with segment_sum_scratch_bytes, zero with begin, let the row
// forward fill absmax/count, then finish() adds token_logp in int64 fixed point and writes step_sum.
size_t segment_sum_scratch_bytes(int64_t num_steps);
struct SegmentSum {
  unsigned int* absmax_bits;
  unsigned int* count;
  unsigned long long* acc;
  int64_t num_steps;
};
SegmentSum segment_sum_begin(void* scratch, int64_t num_steps);
void segment_sum_finish(const SegmentSum& s, const float* token_logp, const int32_t* step_index, int64_t n,
                        float* step_sum);

// ---- GEMM (gemm.cu): C[M,N] = alpha * op(A) op(B) + beta * C, row-major, fp32 accumulation -------------------
// A is logical [M,K]: stored [M,K] (a_trans = false) or [K,M] (true). B is logical [K,N]: stored [K,N]
// (b_trans = false) or [N,K] (true). C is fp32 [M,N]. beta == 0 never reads C.
struct GemmArgs {
  const void* a;
  DType a_type;
  bool a_trans;
  const void* b;
  DType b_type;
  bool b_trans;
  float* c;
  int64_t m, n, k;
  float alpha, beta;
};
void gemm(const GemmArgs& g);
// True when gemm() needs A and B of one dtype (cuBLAS); the own kernel accepts mixed fp32/bf16 operands.
bool gemm_needs_same_types();

}  // namespace stepwise::gpu
