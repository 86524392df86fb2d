// AVX2+FMA exp sweep for floors.cc. Compiled with -mavx2 -mfma (CMake adds them to *_avx2.cc only) and called
// only after cpu_has_avx2_fma() says the running CPU has both.
#include <immintrin.h>

#include "floors.h"

namespace stepwise::floors {

// Cephes expf: n = round(x log2 e), r = x - n ln2 (two-part ln2), degree-6 polynomial, scale by 2^n through
// the exponent bits. Accurate to ~1 ulp over the clamped range, i.e. the quality a kernel's fast path must
// at least match for fp32, so its rate is an honest "exp floor" (kernels.md §1.6 measured 3.2 G/s/core).
static inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504019f);
  x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
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

double exp_sweeps_avx2(const float* in, float* out, int64_t n, int64_t passes) {
  double check = 0;
  const int64_t n8 = n - n % 8;
  for (int64_t p = 0; p < passes; ++p) {
    // Two independent streams per iteration keep both FMA ports busy, as a real kernel's unrolled loop would.
    int64_t i = 0;
    for (; i + 16 <= n8; i += 16) {
      _mm256_storeu_ps(out + i, exp256(_mm256_loadu_ps(in + i)));
      _mm256_storeu_ps(out + i + 8, exp256(_mm256_loadu_ps(in + i + 8)));
    }
    for (; i < n8; i += 8) _mm256_storeu_ps(out + i, exp256(_mm256_loadu_ps(in + i)));
    // A value from each pass feeds the checksum and the barrier stops the passes being merged or hoisted.
    check += out[p % (n8 > 0 ? n8 : 1)];
    asm volatile("" ::: "memory");
  }
  return check;
}

}  // namespace stepwise::floors
