// The linear layer for decode-sized batches (a few rows), where streaming W once beats BLAS (see linear.cc).
#pragma once
#include <cstdint>

namespace stepwise::model {

// Rows at or below which linear_forward<float> streams W instead of calling sgemm (measured with
// native/tests/bench_decode.cc: the AVX2 path beats OpenBLAS up to 16 rows on d=256..688 layers).
constexpr int64_t kStreamRowsAvx2 = 16;
// Without AVX2 the portable dot loop only wins at very few rows (plain SSE2 dots vs OpenBLAS's FMA kernels).
constexpr int64_t kStreamRowsPortable = 4;

// Columns [j0, j1) of y[n, out] = x[n, in] W^T (+ b) (+ y when accumulate). Needs AVX2 + FMA.
void linear_rows_avx2(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in, int64_t out,
                      bool accumulate, int64_t j0, int64_t j1);

}  // namespace stepwise::model
