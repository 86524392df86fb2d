// Row-level building blocks shared by step_logprob.cc (logits path) and step_logprob_hidden.cc (LM-head path).
// Internal to native/kernels: not part of the kernel contract.
//
// A row is consumed in segments (an L1-sized block of a logits row, or one V-tile of a GEMM output) that merge
// into a RowState with a per-segment online rescale: one max pass and one exp pass per segment, so there is
// exactly one exp per element (an online softmax with a rescale per *element* costs two, which loses on a CPU,
// see docs/kernels-cpu.md) and the second pass reads the segment from L1 whatever the vocabulary size.
//
// Two implementations of the hot loops exist: portable C++ (step_logprob_rows.cc, baseline x86-64 / any ISA)
// and AVX2+FMA intrinsics (step_logprob_avx2.cc, compiled with -mavx2 -mfma -mf16c). row_ops() picks one at run
// time with cpu_has_avx2_fma(); both use the same exp2 polynomial and agree to within ~1e-6 relative.
#pragma once
#include <cstdint>

namespace stepwise::rows {

// Elements per segment when a logits row is streamed: 2048 fp32 = 8 KiB, so the exp pass re-reads from L1.
constexpr int64_t kSegment = 2048;

// Running softmax statistics of one row, over the columns seen so far.
//   m: running max (-inf before any finite value); exps are shifted by shift(m) = (m == -inf ? 0 : m).
//   s: sum of exp(z - shift(m));  a: sum of exp(z - shift(m)) * (z - shift(m))  (for the entropy);
//   amax: first column holding the running max (-1 until a value > -inf is seen).
// Doubles for s and a: each segment sums in fp32 lanes (at most kSegment-ish terms), then adds into a double,
// so the accumulated rounding stays ~1e-7 relative even at V = 152K.
struct RowState {
  float m;
  double s;
  double a;
  int64_t amax;
};
void row_reset(RowState& st);

// Merges a rescale from the old max to `m_new` (> st.m) into st; used by the segment kernels.
void row_raise_max(RowState& st, float m_new);

// The per-row results, from the final state and the (fp32) target logit.
struct RowResult {
  float logp, lse, entropy;
  uint8_t hit;
};
RowResult row_finish(const RowState& st, float z_target, int64_t target);

struct RowOps {
  // Merges z[0..len) (columns col0..col0+len of the row) into st. want_entropy / want_argmax skip the extra
  // work when the output is not requested. pf[0 .. pf_len) is prefetched during the exp pass (the caller's
  // next segment: memory it will read soon), so it must be readable; pf_len = 0 prefetches nothing.
  // e_out (nullable, may alias z): also stores e_j = exp(z_j - shift(st.m)) with the shift in force after this
  // segment, i.e. shift_of(st.m) read right after the call; the fused forward+grad rescales them later.
  void (*segment)(RowState& st, const float* z, int64_t len, int64_t col0, bool want_entropy, bool want_argmax,
                  const float* pf, int64_t pf_len, float* e_out);
  // out[j] = -g * exp(z[j] - lse) for j in [0, len). out may alias z. The caller fixes the target entry.
  void (*grad_f32)(const float* z, float* out, int64_t len, float lse, float g);
  // The same from bf16 logits to bf16 output (round to nearest even). out may alias z.
  void (*grad_bf16)(const uint16_t* z, uint16_t* out, int64_t len, float lse, float g);
  // Widens bf16 to fp32.
  void (*widen)(const uint16_t* in, float* out, int64_t len);
  // out[j] = c * x[j] (out may alias x): the second pass of the fused forward+grad and the row scale.
  void (*scale_f32)(const float* x, float* out, int64_t len, float c);
  // out[j] = bf16(c * x[j]) from fp32 x, and the same from bf16 x (out may alias x there).
  void (*scale_to_bf16)(const float* x, uint16_t* out, int64_t len, float c);
  void (*scale_bf16)(const uint16_t* x, uint16_t* out, int64_t len, float c);
  const char* name;
};

const RowOps& portable_ops();
const RowOps& avx2_ops();  // only call when cpu_has_avx2_fma()
const RowOps& row_ops();   // the one to use: AVX2 when the CPU has it and STEPWISE_PORTABLE_KERNELS is unset

// exp2 on the reduced range [-0.5, 0.5]: degree-4 fit of 2^f, max relative error 3.7e-6 (fitted for this file
// by weighted least squares on Chebyshev nodes; the constant term is pinned to 1 so exp(0) is exactly 1).
// Degree 5 (1.6e-7) measured 13% slower in the exp pass (one more FMA on the two FMA ports), and 3.7e-6 is
// far inside the 1e-4 budget of the fast path: it moves log-sum-exp by at most 3.7e-6.
constexpr float kP1 = 0.6931217908859253f, kP2 = 0.240247443318367f, kP3 = 0.05591785907745361f,
                kP4 = 0.009570101276040077f;
constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;
// t = z*log2(e) is clamped to [kTLo, kTHi] (the AVX2 path omits kTHi: t <= ~0 for every caller). At t < -126.5 the rounded exponent is -127, whose 2^n bit
// pattern is +0, so exp underflows to exactly 0 (a -inf logit gets probability exactly 0). The clamps keep NaN.
constexpr float kTLo = -127.0f, kTHi = 127.0f;

}  // namespace stepwise::rows

namespace stepwise::rows {

// Runs fn(r0, r1) over [0, n) in blocks of `rows_per_task` rows handed out by an atomic counter to the pool's
// threads: ignored rows cost nothing, so static halves would be unbalanced (prompts first), and on a shared
// machine a busy core simply takes fewer blocks. Each row's result is independent of which thread ran it.
void for_row_blocks(int64_t n, int64_t rows_per_task, void (*fn)(void* ctx, int64_t r0, int64_t r1), void* ctx);

template <typename F>
void for_row_blocks(int64_t n, int64_t rows_per_task, F&& f) {
  for_row_blocks(
      n, rows_per_task, [](void* c, int64_t r0, int64_t r1) { (*static_cast<F*>(c))(r0, r1); },
      static_cast<void*>(&f));
}

// step_sum[s] = sum of token_logp over the tokens with step_index == s, in token order, in double: one serial
// O(n) pass, deterministic whatever the thread split.
void step_sums(int64_t n, const int32_t* targets, const int32_t* step_index, int64_t num_steps, const float* token_logp,
               float* step_sum);

// g_t = grad_token[t] + grad_step[step_index[t]] (missing pieces are 0; ignored tokens get 0).
inline float token_grad(int64_t t, const int32_t* targets, const int32_t* step_index, const float* grad_token,
                        const float* grad_step) {
  if (targets[t] < 0) return 0.0f;
  float g = grad_token ? grad_token[t] : 0.0f;
  if (grad_step && step_index && step_index[t] >= 0) g += grad_step[step_index[t]];
  return g;
}

}  // namespace stepwise::rows
