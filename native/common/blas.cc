#include "blas.h"

#include <algorithm>
#include <vector>

#include "parallel.h"

#ifdef STEPWISE_HAVE_CBLAS
#include <cblas.h>
#endif

namespace stepwise {
namespace {

// Portable fallback: C = alpha*op(A)op(B) + beta*C. Packs op(B) into a contiguous [k, n] panel so the inner
// loop is a unit-stride axpy the compiler vectorises; rows of C are split across threads.
template <typename T>
void gemm_fallback(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                   int64_t ldb, T beta, T* c, int64_t ldc) {
  std::vector<T> bp(static_cast<size_t>(k * n));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) bp[p * n + j] = tb ? b[j * ldb + p] : b[p * ldb + j];
  parallel_for(m, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t r0, int64_t r1) {
    std::vector<T> acc(static_cast<size_t>(n));
    for (int64_t i = r0; i < r1; ++i) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t p = 0; p < k; ++p) {
        T av = ta ? a[p * lda + i] : a[i * lda + p];
        if (av == T(0)) continue;
        const T* row = &bp[p * n];
        for (int64_t j = 0; j < n; ++j) acc[j] += av * row[j];
      }
      T* ci = c + i * ldc;
      if (beta == T(0))
        for (int64_t j = 0; j < n; ++j) ci[j] = alpha * acc[j];
      else
        for (int64_t j = 0; j < n; ++j) ci[j] = alpha * acc[j] + beta * ci[j];
    }
  });
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
#ifdef STEPWISE_HAVE_CBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#else
  gemm_fallback<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0 ? 0.0 : beta * c[i * ldc + j];
    return;
  }
#ifdef STEPWISE_HAVE_CBLAS
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#else
  gemm_fallback<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

const char* blas_backend() {
#ifdef STEPWISE_HAVE_CBLAS
  return STEPWISE_CBLAS_NAME;
#else
  return "fallback";
#endif
}

}  // namespace stepwise
