// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(X) = X or X^T.
// A is [m,k] (or [k,m] when trans_a), B is [k,n] (or [n,k] when trans_b), C is [m,n]; lda/ldb/ldc are row strides.
// Uses the system CBLAS (OpenBLAS, found by CMake) when STEPWISE_HAVE_CBLAS, else a portable blocked
// fallback that parallelises over rows with parallel_for.
#pragma once
#include <cstdint>

namespace stepwise {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Double precision, used by the float64 engine instantiation for exact gradient checks (same conventions).
void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

const char* blas_backend();  // "openblas" / "cblas" / "fallback"

}  // namespace stepwise
