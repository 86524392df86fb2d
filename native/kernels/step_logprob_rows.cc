// Portable row kernels (see step_logprob_rows.h) and the shared scalar pieces (state merge, finish, dispatch).
// The hot loops use 4-lane GCC/Clang vector extensions rather than intrinsics, so they build for any target;
// same exp2 algorithm and polynomial as the AVX2 file, so the two agree to ~1e-6 relative. Clamps are written
// as `t < lo ? lo : t`, which keeps NaN (NaN logits give NaN outputs instead of being clamped away).
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

constexpr float kMagic = 12582912.0f + 127.0f;  // 1.5*2^23 + 127: see exp2_4

// GCC/Clang vector extensions: lowered to the target's SIMD (SSE2 on baseline x86-64, NEON on arm64) or to
// scalars, with no intrinsics. GCC 12 does not auto-vectorise these loops from plain scalar code (the float
// selects and the reductions), hence the explicit 4-lane form; a cast between same-size vector types is a
// bit reinterpretation.
typedef float f4 __attribute__((vector_size(16)));
typedef uint32_t u4 __attribute__((vector_size(16)));

inline f4 splat(float x) { return f4{x, x, x, x}; }
inline f4 load4(const float* p) {
  f4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, f4 v) { std::memcpy(p, &v, sizeof v); }

// t = z*log2(e) clamped to [kTLo, kTHi]: `t < lo ? lo : t` keeps NaN (the compare is false for NaN).
inline f4 clamp4(f4 t) {
  t = t < splat(kTLo) ? splat(kTLo) : t;
  return t > splat(kTHi) ? splat(kTHi) : t;
}

// 2^t for a clamped t, the same algorithm as the AVX2 exp2_8: big = t + 1.5*2^23 + 127 holds round(t) + 127 in
// its low mantissa bits, so big << 23 is the bit pattern of 2^round(t) (+0 for round(t) = -127).
inline f4 exp2_4(f4 t) {
  const f4 big = t + splat(kMagic);
  const f4 f = t - (big - splat(kMagic));
  f4 p = splat(kP4) * f + splat(kP3);
  p = p * f + splat(kP2);
  p = p * f + splat(kP1);
  p = p * f + splat(1.0f);
  return p * (f4)((u4)big << 23);
}

// Loads up to 4 values, -inf past the end (exp 0, ignored by max).
inline f4 load_tail4(const float* z, int64_t rem) {
  const float ninf = -std::numeric_limits<float>::infinity();
  f4 v = splat(ninf);
  for (int64_t i = 0; i < rem; ++i) v[i] = z[i];
  return v;
}

inline f4 max4(f4 a, f4 b) { return a > b ? a : b; }

inline float shift_of(float m) { return m == -std::numeric_limits<float>::infinity() ? 0.0f : m; }

void segment_portable(RowState& st, const float* z, int64_t len, int64_t col0, bool want_entropy, bool want_argmax,
                      const float* pf, int64_t pf_len, float* e_out) {
  if (len <= 0) return;
  const float ninf = -std::numeric_limits<float>::infinity();
  f4 m0 = splat(ninf), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    m0 = max4(load4(z + j), m0);
    m1 = max4(load4(z + j + 4), m1);
    m2 = max4(load4(z + j + 8), m2);
    m3 = max4(load4(z + j + 12), m3);
  }
  for (; j < len; j += 4) m0 = max4(len - j >= 4 ? load4(z + j) : load_tail4(z + j, len - j), m0);
  m0 = max4(max4(m0, m1), max4(m2, m3));
  float mseg = ninf;
  for (int k = 0; k < 4; ++k) mseg = m0[k] > mseg ? m0[k] : mseg;
  if (mseg > st.m) {
    if (want_argmax)
      for (int64_t i = 0; i < len; ++i)
        if (z[i] == mseg) {
          st.amax = col0 + i;
          break;
        }
    row_raise_max(st, mseg);
  }
  // Pull the next segment into cache while this one's exps run (see the AVX2 version).
  for (int64_t i = 0; i < pf_len; i += 16) __builtin_prefetch(pf + i);
  const f4 shift = splat(shift_of(st.m)), log2e = splat(kLog2e);
  f4 s0 = splat(0.0f), s1 = s0, a0 = s0, a1 = s0;
  j = 0;
  for (; j + 8 <= len; j += 8) {
    const f4 t0 = clamp4((load4(z + j) - shift) * log2e), t1 = clamp4((load4(z + j + 4) - shift) * log2e);
    const f4 e0 = exp2_4(t0), e1 = exp2_4(t1);
    s0 += e0;
    s1 += e1;
    if (want_entropy) {  // loop-invariant: predicted perfectly
      a0 += e0 * t0;
      a1 += e1 * t1;
    }
    if (e_out) {  // after both loads: e_out may alias z
      store4(e_out + j, e0);
      store4(e_out + j + 4, e1);
    }
  }
  for (; j < len; j += 4) {
    const int64_t rem = len - j;
    const f4 t = clamp4(((rem >= 4 ? load4(z + j) : load_tail4(z + j, rem)) - shift) * log2e);
    const f4 e = exp2_4(t);
    s0 += e;
    a0 += e * t;
    if (e_out)
      for (int64_t i = 0; i < 4 && i < rem; ++i) e_out[j + i] = e[i];
  }
  s0 += s1;
  a0 += a1;
  double ss = 0, aa = 0;
  for (int k = 0; k < 4; ++k) {
    ss += s0[k];
    aa += a0[k];
  }
  st.s += ss;
  if (want_entropy) st.a += aa * kLn2;  // t is in log2 units
}

void grad_f32_portable(const float* z, float* out, int64_t len, float lse_f, float g) {
  const f4 lse = splat(lse_f), ng = splat(-g), log2e = splat(kLog2e);
  int64_t j = 0;
  for (; j + 4 <= len; j += 4) store4(out + j, ng * exp2_4(clamp4((load4(z + j) - lse) * log2e)));
  if (j < len) {
    const f4 r = ng * exp2_4(clamp4((load_tail4(z + j, len - j) - lse) * log2e));
    for (int64_t i = 0; j + i < len; ++i) out[j + i] = r[i];
  }
}

void grad_bf16_portable(const uint16_t* z, uint16_t* out, int64_t len, float lse_f, float g) {
  const f4 lse = splat(lse_f), ng = splat(-g), log2e = splat(kLog2e);
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < len; j += 4) {
    f4 v = splat(ninf);
    for (int64_t i = 0; i < 4 && j + i < len; ++i) v[i] = bf16_to_f32(z[j + i]);
    const u4 b = (u4)(ng * exp2_4(clamp4((v - lse) * log2e)));
    const u4 r = (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;  // round to nearest even, as f32_to_bf16
    for (int64_t i = 0; i < 4 && j + i < len; ++i) out[j + i] = static_cast<uint16_t>(r[i]);
  }
}

void scale_f32_portable(const float* x, float* out, int64_t len, float c) {
  int64_t j = 0;
  for (; j + 4 <= len; j += 4) store4(out + j, splat(c) * load4(x + j));
  for (; j < len; ++j) out[j] = c * x[j];
}

void scale_to_bf16_portable(const float* x, uint16_t* out, int64_t len, float c) {
  for (int64_t j = 0; j < len; ++j) out[j] = f32_to_bf16(c * x[j]);
}

void scale_bf16_portable(const uint16_t* x, uint16_t* out, int64_t len, float c) {
  for (int64_t j = 0; j < len; ++j) out[j] = f32_to_bf16(c * bf16_to_f32(x[j]));
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
  static const RowOps ops{segment_portable,   grad_f32_portable,      grad_bf16_portable,  widen_portable,
                          scale_f32_portable, scale_to_bf16_portable, scale_bf16_portable, "portable"};
  return ops;
}

const RowOps& row_ops() {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2_fma()) return avx2_ops();
#endif
  return portable_ops();
}

}  // namespace stepwise::rows
