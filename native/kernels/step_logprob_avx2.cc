// AVX2 + FMA row kernels (see step_logprob_rows.h). CMake compiles this file alone with -mavx2 -mfma -mf16c;
// row_ops() calls into it only after cpu_has_avx2_fma(). Why so careful: an inline function shared with a
// portable file (say from dtype.h or <cmath>) could be emitted here with AVX2 encodings and then chosen by the
// linker for the portable callers too, so this file includes no such header and keeps its helpers in an
// anonymous namespace.
#include "step_logprob_rows.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace stepwise::rows {
namespace {

// t = z * log2(e) clamped below to kTLo. No upper clamp: every caller has t <= ~0 (z - running max in the
// forward, z - lse in the backward). maxps takes the constant FIRST: when t is NaN it returns its second
// operand, so NaN survives.
inline __m256 clamp_t(__m256 t) { return _mm256_max_ps(_mm256_set1_ps(kTLo), t); }

// 2^t for a clamped t. Rounding by a magic add instead of roundps + cvtps2dq (which compete for one port):
// big = t + 1.5*2^23 + 127 holds round(t) + 127 in its low mantissa bits, so big << 23 is the bit pattern of
// 2^round(t) (+0 when round(t) = -127, hence exp of -inf is exactly 0), and big - magic = round(t) exactly.
inline __m256 exp2_8(__m256 t) {
  const __m256 magic = _mm256_set1_ps(12582912.0f + 127.0f);
  const __m256 big = _mm256_add_ps(t, magic);
  const __m256 f = _mm256_sub_ps(t, _mm256_sub_ps(big, magic));
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kP4), f, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(big), 23)));
}

inline __m256i tail_mask(int64_t rem) {  // lanes [0, rem) active, rem in [0, 8]
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), idx);
}

// Loads up to 8 values, -inf in the lanes past the end (exp gives 0 there, max ignores them).
inline __m256 load_tail(const float* z, int64_t rem) {
  const __m256i m = tail_mask(rem);
  const __m256 v = _mm256_maskload_ps(z, m);
  return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), v, _mm256_castsi256_ps(m));
}

inline float hmax(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}

inline double hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128d lo = _mm_cvtps_pd(x), hi = _mm_cvtps_pd(_mm_movehl_ps(x, x));
  __m128d s = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// The exp pass of one segment: s += exp(z - shift) (and a += e * t for the entropy), storing e to out when kStore.
// Templated so that each combination is its own straight loop (the flags are per call, not per element).
template <bool kEntropy, bool kStore>
void exp_pass(const float* z, int64_t len, float shift_f, float* out, const char* pf, int64_t pf_lines, __m256& s0,
              __m256& s1, __m256& a0, __m256& a1) {
  const __m256 shift = _mm256_set1_ps(shift_f), log2e = _mm256_set1_ps(kLog2e);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    if (j / 16 < pf_lines) _mm_prefetch(pf + j * 4, _MM_HINT_T0);
    const __m256 t0 = clamp_t(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(z + j), shift), log2e));
    const __m256 t1 = clamp_t(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(z + j + 8), shift), log2e));
    const __m256 e0 = exp2_8(t0), e1 = exp2_8(t1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
    if (kEntropy) {
      a0 = _mm256_fmadd_ps(e0, t0, a0);
      a1 = _mm256_fmadd_ps(e1, t1, a1);
    }
    if (kStore) {  // after both loads: out may alias z
      _mm256_storeu_ps(out + j, e0);
      _mm256_storeu_ps(out + j + 8, e1);
    }
  }
  for (; j < len; j += 8) {
    const int64_t rem = len - j;
    const __m256 zv = rem >= 8 ? _mm256_loadu_ps(z + j) : load_tail(z + j, rem);
    const __m256 t = clamp_t(_mm256_mul_ps(_mm256_sub_ps(zv, shift), log2e));
    const __m256 e = exp2_8(t);
    s0 = _mm256_add_ps(s0, e);
    a0 = _mm256_fmadd_ps(e, t, a0);
    if (kStore) {
      if (rem >= 8) _mm256_storeu_ps(out + j, e);
      else _mm256_maskstore_ps(out + j, tail_mask(rem), e);
    }
  }
}

void segment_avx2(RowState& st, const float* z, int64_t len, int64_t col0, bool want_entropy, bool want_argmax,
                  const float* pf_ptr, int64_t pf_len, float* e_out) {
  if (len <= 0) return;
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(z + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(z + j + 8), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(z + j + 16), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(z + j + 24), m3);
  }
  for (; j + 8 <= len; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(z + j), m0);
  if (j < len) m1 = _mm256_max_ps(load_tail(z + j, len - j), m1);
  const float mseg = hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  if (mseg > st.m) {
    if (want_argmax) {
      const __m256 mv = _mm256_set1_ps(mseg);
      int64_t i = 0;
      int64_t found = -1;
      for (; i + 8 <= len && found < 0; i += 8) {
        const int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(z + i), mv, _CMP_EQ_OQ));
        if (bits) found = i + __builtin_ctz(static_cast<unsigned>(bits));
      }
      for (; i < len && found < 0; ++i)
        if (z[i] == mseg) found = i;
      if (found >= 0) st.amax = col0 + found;
    }
    row_raise_max(st, mseg);
  }
  const float shift_f = st.m == -__builtin_inff() ? 0.0f : st.m;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  // The exp pass is compute-bound and the max pass memory-bound: while this segment's exps run from L1, pull
  // the next segment of the row into cache (one line per 16-element iteration), so the two overlap. The
  // caller promises pf_ptr[0 .. pf_len) is readable.
  const char* pf = reinterpret_cast<const char*>(pf_ptr);
  const int64_t pf_lines = (pf_len * 4 + 63) / 64;
  if (want_entropy) {
    if (e_out) exp_pass<true, true>(z, len, shift_f, e_out, pf, pf_lines, s0, s1, a0, a1);
    else exp_pass<true, false>(z, len, shift_f, e_out, pf, pf_lines, s0, s1, a0, a1);
  } else {
    if (e_out) exp_pass<false, true>(z, len, shift_f, e_out, pf, pf_lines, s0, s1, a0, a1);
    else exp_pass<false, false>(z, len, shift_f, e_out, pf, pf_lines, s0, s1, a0, a1);
  }
  st.s += hsum(_mm256_add_ps(s0, s1));
  if (want_entropy) st.a += hsum(_mm256_add_ps(a0, a1)) * static_cast<double>(kLn2);
}

inline __m256 grad8(__m256 zv, __m256 lse, __m256 ng) {
  // The forward's lse is >= every z of the row, so t <= ~0 and only the low clamp is needed. (An lse of -inf,
  // from a row with no finite logit, gives t = +inf or NaN and so NaN, which is what such a row deserves.)
  const __m256 t = clamp_t(_mm256_mul_ps(_mm256_sub_ps(zv, lse), _mm256_set1_ps(kLog2e)));
  return _mm256_mul_ps(ng, exp2_8(t));
}

void grad_f32_avx2(const float* z, float* out, int64_t len, float lse_f, float g) {
  const __m256 lse = _mm256_set1_ps(lse_f), ng = _mm256_set1_ps(-g);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    const __m256 r0 = grad8(_mm256_loadu_ps(z + j), lse, ng);
    const __m256 r1 = grad8(_mm256_loadu_ps(z + j + 8), lse, ng);
    _mm256_storeu_ps(out + j, r0);
    _mm256_storeu_ps(out + j + 8, r1);
  }
  for (; j < len; j += 8) {
    const int64_t rem = len - j;
    if (rem >= 8) {
      _mm256_storeu_ps(out + j, grad8(_mm256_loadu_ps(z + j), lse, ng));
    } else {
      const __m256i m = tail_mask(rem);
      _mm256_maskstore_ps(out + j, m, grad8(_mm256_maskload_ps(z + j, m), lse, ng));
    }
  }
}

// fp32 -> bf16 bits, round to nearest even, in the low 16 bits of each 32-bit lane. Quiet NaNs stay NaN.
inline __m256i round_bf16(__m256 x) {
  const __m256i b = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  return _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
}

inline __m256i pack16(__m256 lo, __m256 hi) {  // 16 fp32 -> 16 bf16 in order
  const __m256i p = _mm256_packus_epi32(round_bf16(lo), round_bf16(hi));  // per 128-bit lane interleave
  return _mm256_permute4x64_epi64(p, 0xD8);
}

inline __m256 widen8(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

// Reads bf16 and writes bf16 directly: each 16-element block is loaded before it is stored, so in == out works.
void grad_bf16_avx2(const uint16_t* z, uint16_t* out, int64_t len, float lse_f, float g) {
  const __m256 lse = _mm256_set1_ps(lse_f), ng = _mm256_set1_ps(-g);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    const __m256 r0 = grad8(widen8(z + j), lse, ng);
    const __m256 r1 = grad8(widen8(z + j + 8), lse, ng);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), pack16(r0, r1));
  }
  if (j < len) {  // the last < 16: widen into a buffer padded with -inf, copy out only what exists
    alignas(32) float zf[16];
    alignas(32) uint16_t buf[16];
    const int64_t rem = len - j;
    for (int64_t i = 0; i < 16; ++i) {
      const uint32_t bits = i < rem ? static_cast<uint32_t>(z[j + i]) << 16 : 0xFF800000u;
      __builtin_memcpy(&zf[i], &bits, sizeof bits);
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(buf),
                       pack16(grad8(_mm256_load_ps(zf), lse, ng), grad8(_mm256_load_ps(zf + 8), lse, ng)));
    for (int64_t i = 0; i < rem; ++i) out[j + i] = buf[i];
  }
}

void scale_f32_avx2(const float* x, float* out, int64_t len, float c_f) {
  const __m256 c = _mm256_set1_ps(c_f);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    const __m256 r0 = _mm256_mul_ps(c, _mm256_loadu_ps(x + j)), r1 = _mm256_mul_ps(c, _mm256_loadu_ps(x + j + 8));
    _mm256_storeu_ps(out + j, r0);
    _mm256_storeu_ps(out + j + 8, r1);
  }
  for (; j < len; ++j) out[j] = c_f * x[j];
}

void scale_to_bf16_avx2(const float* x, uint16_t* out, int64_t len, float c_f) {
  const __m256 c = _mm256_set1_ps(c_f);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j),
                        pack16(_mm256_mul_ps(c, _mm256_loadu_ps(x + j)), _mm256_mul_ps(c, _mm256_loadu_ps(x + j + 8))));
  if (j < len) {  // the last < 16 through a padded buffer
    alignas(32) float xf[16] = {};
    alignas(32) uint16_t buf[16];
    const int64_t rem = len - j;
    for (int64_t i = 0; i < rem; ++i) xf[i] = x[j + i];
    _mm256_store_si256(reinterpret_cast<__m256i*>(buf),
                       pack16(_mm256_mul_ps(c, _mm256_load_ps(xf)), _mm256_mul_ps(c, _mm256_load_ps(xf + 8))));
    for (int64_t i = 0; i < rem; ++i) out[j + i] = buf[i];
  }
}

// Each 16-element block is loaded before it is stored, so in == out works.
void scale_bf16_avx2(const uint16_t* x, uint16_t* out, int64_t len, float c_f) {
  const __m256 c = _mm256_set1_ps(c_f);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j),
                        pack16(_mm256_mul_ps(c, widen8(x + j)), _mm256_mul_ps(c, widen8(x + j + 8))));
  if (j < len) {  // the last < 16: widened (read before anything is written), then scale_to_bf16's tail
    float xf[16];
    const int64_t rem = len - j;
    for (int64_t i = 0; i < rem; ++i) {
      const uint32_t bits = static_cast<uint32_t>(x[j + i]) << 16;
      __builtin_memcpy(&xf[i], &bits, sizeof bits);
    }
    scale_to_bf16_avx2(xf, out + j, rem, c_f);
  }
}

void widen_avx2(const uint16_t* in, float* out, int64_t len) {
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j)));
    _mm256_storeu_ps(out + j, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; j < len; ++j) {
    const uint32_t bits = static_cast<uint32_t>(in[j]) << 16;
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    out[j] = f;
  }
}

}  // namespace

const RowOps& avx2_ops() {
  static const RowOps ops{segment_avx2,   grad_f32_avx2,      grad_bf16_avx2,  widen_avx2,
                          scale_f32_avx2, scale_to_bf16_avx2, scale_bf16_avx2, "avx2"};
  return ops;
}

}  // namespace stepwise::rows

#else  // not built with AVX2 (another ISA): row_ops() never asks for this, but keep the symbol defined.
namespace stepwise::rows {
const RowOps& avx2_ops() { return portable_ops(); }
}  // namespace stepwise::rows
#endif
