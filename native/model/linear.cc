// GEMM dispatch and the linear layer (x W^T + b) with its backward.
#include <type_traits>

#include "common/blas.h"
#include "common/cpu_features.h"
#include "common/parallel.h"
#include "linear_rows.h"
#include "ops.h"

namespace stepwise::model {

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                  const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

namespace {
// Columns [j0, j1) of the small-batch path, portable: plain dots (the compiler vectorises dot8 at the baseline ISA).
template <typename T>
void linear_rows_portable(T* y, const T* x, const T* w, const T* b, int64_t n, int64_t in, int64_t out,
                          bool accumulate, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const T* wj = w + j * in;
    for (int64_t r = 0; r < n; ++r) {
      const T v = dot8(x + r * in, wj, in) + (b ? b[j] : T(0));
      y[r * out + j] = accumulate ? y[r * out + j] + v : v;
    }
  }
}
}  // namespace

template <typename T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int64_t n, int64_t in, int64_t out, bool accumulate) {
  if (n == 0) return;
  // Decode-sized batches: BLAS repacks all of W for a handful of rows; instead each thread streams its rows of W
  // once and dots them with every x row (the weights are read once per decode step, which is the step's floor).
  bool avx2 = false;
  if constexpr (std::is_same_v<T, float>) avx2 = cpu_has_avx2_fma();
  if (n <= (avx2 ? kStreamRowsAvx2 : kStreamRowsPortable)) {
    parallel_for(out, 64, [&](int64_t j0, int64_t j1) {
      if constexpr (std::is_same_v<T, float>) {
        if (avx2) return linear_rows_avx2(y, x, w, b, n, in, out, accumulate, j0, j1);
      }
      linear_rows_portable(y, x, w, b, n, in, out, accumulate, j0, j1);
    });
    return;
  }
  gemm<T>(false, true, n, out, in, T(1), x, in, w, in, accumulate ? T(1) : T(0), y, out);
  if (b) {  // (the small-n path above adds the bias itself)
    parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < out; ++j) y[r * out + j] += b[j];
    });
  }
}

template <typename T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int64_t n, int64_t in, int64_t out,
                     bool accumulate_dx) {
  if (n == 0) return;
  if (dx) gemm<T>(false, false, n, in, out, T(1), dy, out, w, in, accumulate_dx ? T(1) : T(0), dx, in);
  gemm<T>(true, false, out, in, n, T(1), dy, out, x, in, T(1), dw, in);
  if (db) {
    // Parallel over output columns: each thread owns its columns of db, so no reduction race.
    parallel_for(out, 64, [&](int64_t j0, int64_t j1) {
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = j0; j < j1; ++j) db[j] += dy[r * out + j];
    });
  }
}

template void linear_forward<float>(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, bool);
template void linear_forward<double>(double*, const double*, const double*, const double*, int64_t, int64_t, int64_t,
                                     bool);
template void linear_backward<float>(float*, float*, float*, const float*, const float*, const float*, int64_t,
                                     int64_t, int64_t, bool);
template void linear_backward<double>(double*, double*, double*, const double*, const double*, const double*, int64_t,
                                      int64_t, int64_t, bool);

}  // namespace stepwise::model
