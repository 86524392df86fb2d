// AVX2+FMA exp sweep for floors.cc. Compiled with -mavx2 -mfma (CMake adds them to *_avx2.cc only) and called
// only after cpu_has_avx2_fma() says the running CPU has both.
#include <immintrin.h>

#include "common/simd_avx2.h"
#include "floors.h"

namespace stepwise::floors {

double exp_sweeps_avx2(const float* in, float* out, int64_t n, int64_t passes) {
  double check = 0;
  const int64_t n8 = n - n % 8;
  for (int64_t p = 0; p < passes; ++p) {
    // Two independent streams per iteration keep both FMA ports busy, as a real kernel's unrolled loop would.
    int64_t i = 0;
    for (; i + 16 <= n8; i += 16) {
      _mm256_storeu_ps(out + i, simd::exp256(_mm256_loadu_ps(in + i)));
      _mm256_storeu_ps(out + i + 8, simd::exp256(_mm256_loadu_ps(in + i + 8)));
    }
    for (; i < n8; i += 8) _mm256_storeu_ps(out + i, simd::exp256(_mm256_loadu_ps(in + i)));
    // A value from each pass feeds the checksum and the barrier stops the passes being merged or hoisted.
    check += out[p % (n8 > 0 ? n8 : 1)];
    asm volatile("" ::: "memory");
  }
  return check;
}

}  // namespace stepwise::floors
