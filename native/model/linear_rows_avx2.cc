// AVX2/FMA linear layer for decode-sized batches (a few rows): y[r, j] = x[r] . W[j] (+ b[j]) (+ y[r, j]).
// Compiled with -mavx2 -mfma (CMake gives *_avx2.cc those flags) and called only after cpu_has_avx2_fma().
//
// Why not sgemm: at a handful of rows a decode step is a pass over every weight of the model, and BLAS packs
// (copies) all of W before it multiplies, so it reads W twice and writes it once. Here W is streamed once: a
// tile of 4 W rows is dotted with 3 x rows at a time (12 running 8-lane sums in registers), so each loaded
// W vector feeds 3 FMAs, and the x rows stay in L1.
#include "linear_rows.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "common/simd_avx2.h"

namespace stepwise::model {

namespace {

// dots[a][c] = W row (j + a) . x row (r + c), for a < WR, c < XR, over `in` elements.
template <int WR, int XR>
inline void tile(float (&dots)[4][4], const float* w, const float* x, int64_t in) {
  __m256 acc[WR][XR];
  for (int a = 0; a < WR; ++a)
    for (int c = 0; c < XR; ++c) acc[a][c] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= in; k += 8) {
    __m256 wv[WR];
    for (int a = 0; a < WR; ++a) wv[a] = _mm256_loadu_ps(w + a * in + k);
    for (int c = 0; c < XR; ++c) {
      const __m256 xv = _mm256_loadu_ps(x + c * in + k);
      for (int a = 0; a < WR; ++a) acc[a][c] = _mm256_fmadd_ps(wv[a], xv, acc[a][c]);
    }
  }
  for (int a = 0; a < WR; ++a)
    for (int c = 0; c < XR; ++c) {
      float s = simd::hsum8(acc[a][c]);
      for (int64_t t = k; t < in; ++t) s += w[a * in + t] * x[c * in + t];
      dots[a][c] = s;
    }
}

// Columns [j, j + WR) for every row: the W tile is read from memory once, then from L1 for the other row groups.
// Row groups of 3: a 4 x 4 tile needs 16 accumulators + 4 W vectors + an x vector, more than the 16 ymm
// registers, and spilled (measured, d=256/688 layers from L3, 16 rows: 4-row groups 2.1 ms, 2-row 1.4 ms,
// 3-row 1.2 ms for the same work).
constexpr int kXR = 3;
template <int WR>
void column_tile(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in, int64_t out,
                 bool accumulate, int64_t j) {
  float dots[4][4];
  const float* wj = w + j * in;
  for (int64_t r = 0; r < n; r += kXR) {
    const int xr = int(n - r < kXR ? n - r : kXR);
    switch (xr) {
      case 3: tile<WR, 3>(dots, wj, x + r * in, in); break;
      case 2: tile<WR, 2>(dots, wj, x + r * in, in); break;
      default: tile<WR, 1>(dots, wj, x + r * in, in); break;
    }
    for (int a = 0; a < WR; ++a)
      for (int c = 0; c < xr; ++c) {
        const float v = dots[a][c] + (b ? b[j + a] : 0.f);
        float& dst = y[(r + c) * out + j + a];
        dst = accumulate ? dst + v : v;
      }
  }
}

}  // namespace

void linear_rows_avx2(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in, int64_t out,
                      bool accumulate, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) column_tile<4>(y, x, w, b, n, in, out, accumulate, j);
  for (; j < j1; ++j) column_tile<1>(y, x, w, b, n, in, out, accumulate, j);
}

}  // namespace stepwise::model

#else  // not built with AVX2 (another ISA): linear.cc never calls this, but the symbol must exist.
namespace stepwise::model {
void linear_rows_avx2(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in, int64_t out,
                      bool accumulate, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t r = 0; r < n; ++r) {
      float v = b ? b[j] : 0.f;
      for (int64_t k = 0; k < in; ++k) v += x[r * in + k] * w[j * in + k];
      y[r * out + j] = accumulate ? y[r * out + j] + v : v;
    }
}
}  // namespace stepwise::model
#endif
