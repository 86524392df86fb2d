// (a) Step log-prob from logits on the GPU: per-token log softmax at the target, lse, entropy, argmax hit,
// deterministic per-step sums, and the in-place backward g_t * (onehot - softmax).
//
// Design (docs/kernels-gpu.md): the kernels are bandwidth-bound (kernels.md §2), so
// - one block per row, 128-bit loads, the row read from HBM exactly once in the forward: an online softmax
//   whose running max is rescaled once per 16-byte vector (not per element), so it costs one exp per element;
// - the fast path folds log2(e) into one FMA and uses ex2.approx; exact=true uses expf/logf and double sums;
// - the backward is one read + one write per element (none of the read when g_t = 0), streaming stores;
// - per-step sums never use float atomics: see segment_sum_* below.
#include <cmath>
#include <type_traits>

#include "gpu/gpu.h"
#include "internal.cuh"

namespace stepwise::gpu {
namespace {

constexpr int kThreads = 512;  // 16 warps: 4 row-blocks per SM keep enough 16-byte loads in flight
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

// Per-thread online-softmax state. s = sum exp(z - m), a = sum exp(z - m) * (z - m) (entropy), best/idx = the
// first column holding the largest value seen (argmax, "first max wins").
template <class Acc>
struct RowState {
  float m = -INFINITY;
  Acc s = 0, a = 0;
  float best = -INFINITY;
  int idx = 0x7fffffff;
};

// Folds cnt values x (columns col..col+cnt) into st. The max is raised once per group, so a group costs cnt
// exps plus at most one rescale.
template <class Acc, bool kExact, bool kStats, int kMax>
__device__ __forceinline__ void consume(RowState<Acc>& st, const float* x, int cnt, int col) {
  float vmax = x[0];
#pragma unroll
  for (int j = 1; j < kMax; ++j)
    if (j < cnt) vmax = fmaxf(vmax, x[j]);
  if (kStats) {
#pragma unroll
    for (int j = 0; j < kMax; ++j)
      if (j < cnt && x[j] > st.best) st.best = x[j], st.idx = col + j;  // columns increase: first max kept
  }
  if (vmax > st.m) {
    if (st.m != -INFINITY) {
      const Acc c = exp_acc(static_cast<Acc>(st.m) - static_cast<Acc>(vmax));
      // Entropy sum moves with the shift: sum e'(z - m') = c * (a + (m - m') * s).
      if (kStats) st.a = c * (st.a + (static_cast<Acc>(st.m) - static_cast<Acc>(vmax)) * st.s);
      st.s *= c;
    }
    st.m = vmax;
  }
  // m = -inf only while every value seen is -inf; then shift by 0 so exp(-inf) = 0, not exp(NaN).
  const float shift = st.m == -INFINITY ? 0.f : st.m;
  const float shift_l2 = shift * kLog2e;
#pragma unroll
  for (int j = 0; j < kMax; ++j) {
    if (j < cnt) {
      const float d = x[j] - shift;
      const float e = kExact ? expf(d) : fast_exp2(fmaf(x[j], kLog2e, -shift_l2));
      st.s += e;
      if (kStats) st.a += static_cast<Acc>(e) * static_cast<Acc>(d);
    }
  }
}

template <class Acc, bool kStats>
__device__ __forceinline__ void merge(RowState<Acc>& a, const RowState<Acc>& b) {
  if (kStats && (b.best > a.best || (b.best == a.best && b.idx < a.idx))) a.best = b.best, a.idx = b.idx;
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return;  // both empty so far
  // An empty side has s = a = 0 and m = -inf: its factor exp(-inf) = 0, and the (m - m') * s term is skipped
  // so that -inf * 0 never makes a NaN.
  const Acc ca = exp_acc(static_cast<Acc>(a.m) - m), cb = exp_acc(static_cast<Acc>(b.m) - m);
  if (kStats) {
    const Acc ta = a.s != 0 ? ca * (a.a + (static_cast<Acc>(a.m) - m) * a.s) : Acc(0);
    const Acc tb = b.s != 0 ? cb * (b.a + (static_cast<Acc>(b.m) - m) * b.s) : Acc(0);
    a.a = ta + tb;
  }
  a.s = ca * a.s + cb * b.s;
  a.m = m;
}

template <class Acc, bool kStats>
__device__ __forceinline__ void shfl_merge(RowState<Acc>& st, int lane_mask) {
  RowState<Acc> o;
  o.m = __shfl_xor_sync(0xffffffffu, st.m, lane_mask);
  o.s = __shfl_xor_sync(0xffffffffu, st.s, lane_mask);
  if (kStats) {
    o.a = __shfl_xor_sync(0xffffffffu, st.a, lane_mask);
    o.best = __shfl_xor_sync(0xffffffffu, st.best, lane_mask);
    o.idx = __shfl_xor_sync(0xffffffffu, st.idx, lane_mask);
  }
  merge<Acc, kStats>(st, o);
}

template <class T, bool kExact, bool kStats>
__global__ void __launch_bounds__(kThreads) row_forward_kernel(RowForwardLaunch a) {
  using Acc = std::conditional_t<kExact, double, float>;
  using V = Vec16<T>;
  // Last rows first: in the from-hidden path the GEMM wrote them last, so they are the likeliest in L2.
  const int64_t row = a.rows - 1 - blockIdx.x;
  const int64_t t = a.row_map ? a.row_map[row] : row;
  const int32_t target = a.targets[t];
  if (target < 0 || target >= a.v) {  // ignored token: every output 0 (uniform branch, whole block exits)
    if (threadIdx.x == 0) {
      a.token_logp[t] = 0.f;
      a.lse[t] = 0.f;
      if (kStats && a.entropy) a.entropy[t] = 0.f;
      if (kStats && a.argmax_hit) a.argmax_hit[t] = 0;
    }
    return;
  }
  const T* p = static_cast<const T*>(a.logits) + row * a.v;
  RowState<Acc> st;
  const int64_t head = head_elems(p, a.v);
  if (threadIdx.x < head) {
    const float x = to_f32(p[threadIdx.x]);
    consume<Acc, kExact, kStats, 1>(st, &x, 1, static_cast<int>(threadIdx.x));
  }
  const uint4* body = reinterpret_cast<const uint4*>(p + head);
  const int64_t nvec = (a.v - head) / V::kN;
  int64_t i = threadIdx.x;
  // Two independent 16-byte loads in flight per thread before either is consumed.
  for (; i + kThreads < nvec; i += 2 * kThreads) {
    const uint4 u0 = body[i], u1 = body[i + kThreads];
    float x[V::kN];
    V::unpack(u0, x);
    consume<Acc, kExact, kStats, V::kN>(st, x, V::kN, static_cast<int>(head + i * V::kN));
    V::unpack(u1, x);
    consume<Acc, kExact, kStats, V::kN>(st, x, V::kN, static_cast<int>(head + (i + kThreads) * V::kN));
  }
  if (i < nvec) {
    float x[V::kN];
    V::unpack(body[i], x);
    consume<Acc, kExact, kStats, V::kN>(st, x, V::kN, static_cast<int>(head + i * V::kN));
  }
  const int64_t tail0 = head + nvec * V::kN;
  if (tail0 + threadIdx.x < a.v) {
    const float x = to_f32(p[tail0 + threadIdx.x]);
    consume<Acc, kExact, kStats, 1>(st, &x, 1, static_cast<int>(tail0 + threadIdx.x));
  }

  // Block reduction in a fixed tree (bitwise reproducible): warps by shuffles, then warp 0 over the warps.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) shfl_merge<Acc, kStats>(st, o);
  // Raw storage: a __shared__ array cannot have the struct's default initialisers.
  __shared__ alignas(16) unsigned char warp_raw[kWarps * sizeof(RowState<Acc>)];
  RowState<Acc>* warp_state = reinterpret_cast<RowState<Acc>*>(warp_raw);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_state[warp] = st;
  __syncthreads();
  if (warp != 0) return;
  st = lane < kWarps ? warp_state[lane] : RowState<Acc>();
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) shfl_merge<Acc, kStats>(st, o);
  if (lane != 0) return;

  const float zt = to_f32(p[target]);
  const Acc log_s = kExact ? static_cast<Acc>(log(static_cast<double>(st.s))) : static_cast<Acc>(__logf(st.s));
  // logp = (z_t - m) - log s: the subtraction of two O(|z|) numbers happens before adding the small log s.
  const float logp = static_cast<float>((static_cast<Acc>(zt) - st.m) - log_s);
  a.token_logp[t] = logp;
  a.lse[t] = static_cast<float>(static_cast<Acc>(st.m) + log_s);
  if (kStats && a.entropy) a.entropy[t] = static_cast<float>(log_s - st.a / st.s);
  if (kStats && a.argmax_hit) a.argmax_hit[t] = st.idx == target ? 1 : 0;
  if (a.step_index && a.step_absmax_bits) {
    const int32_t s = a.step_index[t];
    if (s >= 0) {
      // |logp| >= 0, so its bit pattern orders like its value: an integer max is exact and order-free.
      atomicMax(&a.step_absmax_bits[s], __float_as_uint(fabsf(logp)));
      atomicAdd(&a.step_count[s], 1u);
    }
  }
}

template <class T, bool kExact>
__global__ void __launch_bounds__(kThreads) row_backward_kernel(RowBackwardLaunch a) {
  using V = Vec16<T>;
  const int64_t row = a.rows - 1 - blockIdx.x;
  const int64_t t = a.row_map ? a.row_map[row] : row;
  const int32_t target = a.targets[t];
  float g = 0.f;
  if (target >= 0 && target < a.v && a.unscaled) {
    g = -1.f;
  } else if (target >= 0 && target < a.v) {
    if (a.grad_token) g += a.grad_token[t];
    if (a.grad_step && a.step_index) {
      const int32_t s = a.step_index[t];
      if (s >= 0) g += a.grad_step[s];
    }
  }
  const T* p = static_cast<const T*>(a.logits) + row * a.v;
  T* q = static_cast<T*>(a.dlogits) + row * a.v;
  const float lse = a.lse[t];
  const float lse_l2 = lse * kLog2e;
  // Element j of the gradient; the target's 1 - p is -expm1(z - lse), exact even as p -> 1 (where 1 - p in
  // fp32, or a read-modify-write of a stored bf16 -p, would cancel to 0).
  auto grad = [&](float z, int64_t j) -> float {
    if (j == target) return g * -expm1f(z - lse);
    const float pj = kExact ? expf(z - lse) : fast_exp2(fmaf(z, kLog2e, -lse_l2));
    return -g * pj;
  };
  const int64_t head = head_elems(q, a.v);
  if (head != head_elems(p, a.v)) {
    // Input and output rows sit at different 16-byte phases (offset views): no common vector alignment,
    // so fall back to scalar accesses, which stay coalesced.
    for (int64_t j = threadIdx.x; j < a.v; j += kThreads) q[j] = from_f32<T>(g == 0.f ? 0.f : grad(to_f32(p[j]), j));
    return;
  }
  const int64_t nvec = (a.v - head) / V::kN;
  const int64_t tail0 = head + nvec * V::kN;
  uint4* qb = reinterpret_cast<uint4*>(q + head);
  const uint4* pb = reinterpret_cast<const uint4*>(p + head);
  if (g == 0.f) {  // ignored row or no upstream gradient: zeros, and the logits need not be read at all
    if (threadIdx.x < head) q[threadIdx.x] = from_f32<T>(0.f);
    for (int64_t i = threadIdx.x; i < nvec; i += kThreads) __stcs(qb + i, make_uint4(0, 0, 0, 0));
    if (tail0 + threadIdx.x < a.v) q[tail0 + threadIdx.x] = from_f32<T>(0.f);
    return;
  }
  if (threadIdx.x < head) q[threadIdx.x] = from_f32<T>(grad(to_f32(p[threadIdx.x]), threadIdx.x));
  for (int64_t i = threadIdx.x; i < nvec; i += kThreads) {
    float x[V::kN];
    V::unpack(pb[i], x);
    const int64_t col = head + i * V::kN;
#pragma unroll
    for (int j = 0; j < V::kN; ++j) x[j] = grad(x[j], col + j);
    __stcs(qb + i, V::pack(x));  // evict-first: the gradient is consumed later, the logits rows are still read
  }
  if (tail0 + threadIdx.x < a.v) q[tail0 + threadIdx.x] = from_f32<T>(grad(to_f32(p[tail0 + threadIdx.x]), tail0 + threadIdx.x));
}

// grad[t, :] *= -g_t in place (step_logprob_grad_scale); rows with g_t = 0 become exact zeros, as in the backward.
template <class T>
__global__ void __launch_bounds__(kThreads) row_scale_kernel(StepLogprobGradScale a) {
  const int64_t t = blockIdx.x;
  const int32_t target = a.targets[t];
  float g = 0.f;
  if (target >= 0) {
    if (a.grad_token) g += a.grad_token[t];
    if (a.grad_step && a.step_index && a.step_index[t] >= 0) g += a.grad_step[a.step_index[t]];
  }
  const float c = -g;
  T* q = static_cast<T*>(a.grad) + t * a.v;
  for (int64_t j = threadIdx.x; j < a.v; j += kThreads) q[j] = from_f32<T>(c == 0.f ? 0.f : c * to_f32(q[j]));
}

// ---- deterministic step sums ---------------------------------------------------------------------------------
// Float atomics would make step_sum depend on scheduling. Instead each token's logp is converted to int64
// fixed point with a per-step power-of-two scale chosen from the step's max |logp| and token count (both
// gathered by order-free integer atomics in the row kernel) so the sum cannot overflow; integer addition is
// associative, so the result is bitwise identical on every run, and (62 bits against fp32's 24) more
// accurate than a float sum in any order.
__device__ __forceinline__ int step_exponent(unsigned int absmax_bits, unsigned int count) {
  const float m = __uint_as_float(absmax_bits);
  if (!(m > 0.f) || isinf(m) || count == 0) return 0;
  int k;
  frexp(static_cast<double>(m) * count, &k);  // m * count < 2^k
  return 62 - k;
}

__global__ void segment_accumulate_kernel(SegmentSum s, const float* token_logp, const int32_t* step_index, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    const int32_t st = step_index[t];
    if (st < 0) continue;
    const int e = step_exponent(s.absmax_bits[st], s.count[st]);
    const long long qv = llrint(ldexp(static_cast<double>(token_logp[t]), e));
    atomicAdd(&s.acc[st], static_cast<unsigned long long>(qv));  // two's complement wrap = signed add
  }
}

__global__ void segment_finish_kernel(SegmentSum s, float* step_sum) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < s.num_steps; k += int64_t(gridDim.x) * blockDim.x) {
    const float m = __uint_as_float(s.absmax_bits[k]);
    float out;
    if (s.count[k] == 0) out = 0.f;
    else if (isnan(m)) out = NAN;
    else if (isinf(m)) out = -INFINITY;  // logp <= 0, so an infinite |logp| is -inf
    else out = static_cast<float>(ldexp(static_cast<double>(static_cast<long long>(s.acc[k])),
                                        -step_exponent(s.absmax_bits[k], s.count[k])));
    step_sum[k] = out;
  }
}

int grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

template <class T>
void row_forward_dispatch(const RowForwardLaunch& a, bool stats) {
  const dim3 grid(static_cast<unsigned>(a.rows));
  if (a.exact) {
    if (stats) row_forward_kernel<T, true, true><<<grid, kThreads>>>(a);
    else row_forward_kernel<T, true, false><<<grid, kThreads>>>(a);
  } else {
    if (stats) row_forward_kernel<T, false, true><<<grid, kThreads>>>(a);
    else row_forward_kernel<T, false, false><<<grid, kThreads>>>(a);
  }
}

}  // namespace

void launch_row_forward(const RowForwardLaunch& a) {
  if (a.rows <= 0) return;
  if (a.rows > 0x7fffffffLL) throw std::runtime_error("step_logprob_forward: more than 2^31-1 rows");
  const bool stats = a.entropy != nullptr || a.argmax_hit != nullptr;
  if (a.dtype == DType::BF16) row_forward_dispatch<uint16_t>(a, stats);
  else row_forward_dispatch<float>(a, stats);
  check_launch("step_logprob forward kernel");
}

void launch_row_backward(const RowBackwardLaunch& a) {
  if (a.rows <= 0) return;
  if (a.rows > 0x7fffffffLL) throw std::runtime_error("step_logprob_backward: more than 2^31-1 rows");
  const dim3 grid(static_cast<unsigned>(a.rows));
  if (a.dtype == DType::BF16) {
    if (a.exact) row_backward_kernel<uint16_t, true><<<grid, kThreads>>>(a);
    else row_backward_kernel<uint16_t, false><<<grid, kThreads>>>(a);
  } else {
    if (a.exact) row_backward_kernel<float, true><<<grid, kThreads>>>(a);
    else row_backward_kernel<float, false><<<grid, kThreads>>>(a);
  }
  check_launch("step_logprob backward kernel");
}

size_t segment_sum_scratch_bytes(int64_t num_steps) { return static_cast<size_t>(num_steps) * 16; }

SegmentSum segment_sum_begin(void* scratch, int64_t num_steps) {
  SegmentSum s;
  s.acc = static_cast<unsigned long long*>(scratch);  // 8-byte words first: alignment
  s.absmax_bits = reinterpret_cast<unsigned int*>(s.acc + num_steps);
  s.count = s.absmax_bits + num_steps;
  s.num_steps = num_steps;
  STEPWISE_CUDA_CHECK(cudaMemsetAsync(scratch, 0, segment_sum_scratch_bytes(num_steps)));
  return s;
}

void segment_sum_finish(const SegmentSum& s, const float* token_logp, const int32_t* step_index, int64_t n,
                        float* step_sum) {
  if (n > 0) {
    segment_accumulate_kernel<<<grid_for(n, 256), 256>>>(s, token_logp, step_index, n);
    check_launch("step_logprob segment accumulate kernel");
  }
  segment_finish_kernel<<<grid_for(s.num_steps, 256), 256>>>(s, step_sum);
  check_launch("step_logprob segment finish kernel");
}

// ---- gpu.h entry points -------------------------------------------------------------------------------------
void step_logprob_forward(const StepLogprobForward& a) {
  const bool steps = a.step_sum != nullptr && a.num_steps > 0;
  if (steps && a.step_index == nullptr) {  // no token belongs to a step: every sum is 0
    STEPWISE_CUDA_CHECK(cudaMemsetAsync(a.step_sum, 0, a.num_steps * sizeof(float)));
  }
  const bool seg = steps && a.step_index != nullptr;
  ScratchLease lease = small_scratch(seg ? segment_sum_scratch_bytes(a.num_steps) : 1);
  SegmentSum s{};
  if (seg) s = segment_sum_begin(lease.ptr, a.num_steps);
  RowForwardLaunch r{a.logits, a.dtype,   a.n,       a.v,          nullptr,     a.targets, a.step_index, a.token_logp,
                     a.lse,    a.entropy, a.argmax_hit, s.absmax_bits, s.count, a.exact};
  launch_row_forward(r);
  if (seg) segment_sum_finish(s, a.token_logp, a.step_index, a.n, a.step_sum);
}

// The GPU version of the fused path runs the forward and then the backward kernel with g_t = -1: the same
// results as the CPU's single pass, with a second read of each row (from L2 when the row fits). Making it one
// read (the row kept in registers or shared memory between the reduction and the write) is the GPU follow-up.
void step_logprob_forward_grad(const StepLogprobForward& a, void* grad, const float* grad_token, const float* grad_step) {
  gpu::step_logprob_forward(a);
  RowBackwardLaunch r{a.logits,  grad,         a.dtype, a.n,        a.v,       nullptr,
                      a.targets, a.step_index, a.lse,   grad_token, grad_step, a.exact};
  r.unscaled = grad_token == nullptr && grad_step == nullptr;
  launch_row_backward(r);
}

void step_logprob_grad_scale(const StepLogprobGradScale& a) {
  if (a.n <= 0 || a.v <= 0) return;
  if (a.n > 0x7fffffffLL) throw std::runtime_error("step_logprob_grad_scale: more than 2^31-1 rows");
  const dim3 grid(static_cast<unsigned>(a.n));
  if (a.dtype == DType::BF16) row_scale_kernel<uint16_t><<<grid, kThreads>>>(a);
  else row_scale_kernel<float><<<grid, kThreads>>>(a);
  check_launch("step_logprob grad scale kernel");
}

void step_logprob_backward(const StepLogprobBackward& a) {
  RowBackwardLaunch r{a.logits,  a.dlogits,      a.dtype, a.n,          a.v,         nullptr,
                      a.targets, a.step_index,   a.lse,   a.grad_token, a.grad_step, a.exact};
  launch_row_backward(r);
}

}  // namespace stepwise::gpu
