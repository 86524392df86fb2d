// Small AVX2+FMA helpers (8-wide exp, horizontal sum). Include ONLY from *_avx2.cc files (compiled with -mavx2
// -mfma): the functions are static, so each such file gets its own copy and no AVX2 encoding can leak to a
// portable caller through the linker picking one definition of an inline function.
#pragma once
#include <immintrin.h>

namespace stepwise::simd {

// Cephes expf: n = round(x log2 e), r = x - n ln2 (two-part ln2), degree-6 polynomial, scale by 2^n through
// the exponent bits. Accurate to ~1 ulp over the clamped range [-87.3, 88.4] (so exp(-inf) gives ~1e-38, not
// 0: callers that need exact zeros mask them). It is the quality a kernel's fast path must at least match for
// fp32, so its rate is also an honest "exp floor" (kernels.md §1.6 measured 3.2 G/s/core).
static inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504019f);
  // min/max return their SECOND operand when one is NaN: x goes second, so NaN survives the clamp.
  x = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  __m256 x2 = _mm256_mul_ps(x, x);
  y = _mm256_fmadd_ps(y, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Sum of the 8 lanes.
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace stepwise::simd
