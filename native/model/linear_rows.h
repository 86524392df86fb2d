// The linear layer for decode-sized batches (a few rows), where streaming W once beats BLAS (see linear.cc).
#pragma once
#include <cstdint>

namespace stepwise::model {

// Rows at or below which linear_forward<float> streams W instead of calling sgemm. Measured on the dev box (one
// thread, 8 distinct d=256 x 688, 688 x 256 and 256 x 4096 weights so W comes from L3): at 4 and 8 rows the AVX2
// path took 0.67-0.87 of OpenBLAS's time; at 16 rows it was on par or slower (1.2 vs 0.9 ms at 256 x 688).
constexpr int64_t kStreamRowsAvx2 = 8;
// Without AVX2 the portable dot loop only wins at very few rows (plain SSE2 dots vs OpenBLAS's FMA kernels).
constexpr int64_t kStreamRowsPortable = 4;

// Columns [j0, j1) of y[n, out] = x[n, in] W^T (+ b) (+ y when accumulate). Needs AVX2 + FMA.
void linear_rows_avx2(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in, int64_t out,
                      bool accumulate, int64_t j0, int64_t j1);

}  // namespace stepwise::model
