// Portable row kernels (see step_logprob_rows.h) and the shared scalar pieces (state merge, finish, dispatch).
// Written so GCC/Clang vectorise the inner loops at the baseline ISA: fixed-width lane arrays instead of a
// single scalar accumulator (no -ffast-math, so a plain `sum +=` loop would stay scalar), rounding by the
// 1.5*2^23 magic constant (SSE2 has no roundps), and clamps written as `x < lo ? lo : x`, which maps to maxps
// and keeps NaN (so NaN logits give NaN outputs instead of being clamped away).
#include "step_logprob_rows.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/cpu_features.h"
#include "../common/dtype.h"
#include "../common/parallel.h"

namespace stepwise::rows {
namespace {

constexpr int kLanes = 16;
constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: (t + kMagic) - kMagic rounds t to nearest for |t| < 2^22

inline float exp2_reduced(float t, float* t_clamped) {
  t = t < kTLo ? kTLo : t;
  t = t > kTHi ? kTHi : t;
  *t_clamped = t;
  float big = t + kMagic;
  float n = big - kMagic;
  float f = t - n;
  uint32_t bits;
  std::memcpy(&bits, &big, sizeof bits);
  // bits(t + kMagic) - bits(kMagic) = n; unsigned so a NaN t wraps harmlessly (p is NaN anyway).
  uint32_t pbits = (bits - 0x4B400000u + 127u) << 23;
  float pow2n;
  std::memcpy(&pow2n, &pbits, sizeof pow2n);
  float p = kP5;
  p = p * f + kP4;
  p = p * f + kP3;
  p = p * f + kP2;
  p = p * f + kP1;
  p = p * f + 1.0f;
  return p * pow2n;
}

inline float shift_of(float m) { return m == -std::numeric_limits<float>::infinity() ? 0.0f : m; }

void segment_portable(RowState& st, const float* z, int64_t len, int64_t col0, bool want_entropy, bool want_argmax) {
  if (len <= 0) return;
  float mx[kLanes];
  for (int k = 0; k < kLanes; ++k) mx[k] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int k = 0; k < kLanes; ++k) mx[k] = z[j + k] > mx[k] ? z[j + k] : mx[k];
  float mseg = -std::numeric_limits<float>::infinity();
  for (int k = 0; k < kLanes; ++k) mseg = mx[k] > mseg ? mx[k] : mseg;
  for (; j < len; ++j) mseg = z[j] > mseg ? z[j] : mseg;
  if (mseg > st.m) {
    if (want_argmax)
      for (int64_t i = 0; i < len; ++i)
        if (z[i] == mseg) {
          st.amax = col0 + i;
          break;
        }
    row_raise_max(st, mseg);
  }
  const float shift = shift_of(st.m);
  float s[kLanes] = {}, a[kLanes] = {};
  float tail_s = 0.0f, tail_a = 0.0f;
  j = 0;
  if (want_entropy) {
    for (; j + kLanes <= len; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        float tc;
        float e = exp2_reduced((z[j + k] - shift) * kLog2e, &tc);
        s[k] += e;
        a[k] += e * tc;
      }
  } else {
    for (; j + kLanes <= len; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        float tc;
        s[k] += exp2_reduced((z[j + k] - shift) * kLog2e, &tc);
      }
  }
  for (; j < len; ++j) {
    float tc;
    float e = exp2_reduced((z[j] - shift) * kLog2e, &tc);
    tail_s += e;
    tail_a += e * tc;
  }
  double ss = tail_s, aa = tail_a;
  for (int k = 0; k < kLanes; ++k) {
    ss += s[k];
    aa += a[k];
  }
  st.s += ss;
  if (want_entropy) st.a += aa * kLn2;  // tc is in log2 units
}

void grad_f32_portable(const float* z, float* out, int64_t len, float lse, float g) {
  const float ng = -g;
  for (int64_t j = 0; j < len; ++j) {
    float tc;
    out[j] = ng * exp2_reduced((z[j] - lse) * kLog2e, &tc);
  }
}

void grad_bf16_portable(const float* z, uint16_t* out, int64_t len, float lse, float g) {
  const float ng = -g;
  for (int64_t j = 0; j < len; ++j) {
    float tc;
    out[j] = f32_to_bf16(ng * exp2_reduced((z[j] - lse) * kLog2e, &tc));
  }
}

void widen_portable(const uint16_t* in, float* out, int64_t len) {
  for (int64_t j = 0; j < len; ++j) out[j] = bf16_to_f32(in[j]);
}

}  // namespace

void row_reset(RowState& st) {
  st.m = -std::numeric_limits<float>::infinity();
  st.s = 0.0;
  st.a = 0.0;
  st.amax = -1;
}

void row_raise_max(RowState& st, float m_new) {
  // Old terms were exp(z - old_shift); rescale by c = exp(old_shift - new_shift). The entropy sum also moves:
  // e*(z - new) = c*e_old*((z - old) + (old - new)), so a' = c*(a + (old - new)*s).
  if (st.s > 0.0) {
    const double old_shift = shift_of(st.m), new_shift = shift_of(m_new);
    const double c = std::exp(old_shift - new_shift);
    st.a = c * (st.a + (old_shift - new_shift) * st.s);
    st.s *= c;
  }
  st.m = m_new;
}

RowResult row_finish(const RowState& st, float z_target, int64_t target) {
  RowResult r;
  const double shift = shift_of(st.m);
  const double log_s = std::log(st.s);
  // logp = (z_t - shift) - log s: z_t - shift is exact when both are close (Sterbenz), so logits of 1e4 lose
  // nothing here; only lse itself, rounded to fp32, carries the ulp(1e4) = 1e-3 of that magnitude.
  r.logp = static_cast<float>((static_cast<double>(z_target) - shift) - log_s);
  r.lse = static_cast<float>(shift + log_s);
  r.entropy = static_cast<float>(log_s - st.a / st.s);
  // Every value -inf (or the row unseen): the first column is the argmax by "first max wins".
  const int64_t amax = st.amax < 0 ? 0 : st.amax;
  r.hit = amax == target ? 1 : 0;
  return r;
}

void for_row_blocks(int64_t n, int64_t rows_per_task, void (*fn)(void*, int64_t, int64_t), void* ctx) {
  if (n <= 0) return;
  rows_per_task = std::max<int64_t>(1, rows_per_task);
  const int64_t tasks = (n + rows_per_task - 1) / rows_per_task;
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(tasks, num_threads()), 1, [&](int64_t, int64_t) {
    for (int64_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t r0 = k * rows_per_task;
      fn(ctx, r0, std::min(n, r0 + rows_per_task));
    }
  });
}

void step_sums(int64_t n, const int32_t* targets, const int32_t* step_index, int64_t num_steps, const float* token_logp,
               float* step_sum) {
  if (!step_sum || num_steps <= 0) return;
  for (int64_t s = 0; s < num_steps; ++s) step_sum[s] = 0.0f;
  if (!step_index) return;
  // One double accumulator per step (one allocation per call, not per row).
  std::vector<double> acc(static_cast<size_t>(num_steps), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    const int32_t s = step_index[t];
    if (s >= 0 && targets[t] >= 0) acc[static_cast<size_t>(s)] += token_logp[t];
  }
  for (int64_t s = 0; s < num_steps; ++s) step_sum[s] = static_cast<float>(acc[static_cast<size_t>(s)]);
}

const RowOps& portable_ops() {
  static const RowOps ops{segment_portable, grad_f32_portable, grad_bf16_portable, widen_portable, "portable"};
  return ops;
}

const RowOps& row_ops() {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2_fma()) return avx2_ops();
#endif
  return portable_ops();
}

}  // namespace stepwise::rows
