#include "blas.h"

#include <algorithm>
#include <vector>

#include "parallel.h"

#ifdef STEPWISE_HAVE_CBLAS
#include <cblas.h>
#endif

namespace stepwise {
namespace {

// Portable fallback: C = alpha*op(A)op(B) + beta*C, blocked so that scratch stays bounded (one packed
// KC x NC panel of op(B), 1 MiB for float, plus a KC x MR sliver of op(A) per task) whatever the shapes: the
// from-hidden kernels call it with B = a W tile of thousands of rows, and packing all of op(B) would add tens of
// MiB to their budget. The micro-kernel keeps an MR x NR block of C in registers; NR contiguous columns of
// the packed panel make the inner loop a broadcast-multiply-add the compiler vectorises at the baseline ISA.
constexpr int64_t kKC = 256, kNC = 1024, kMR = 4, kNR = 8;

template <typename T>
void micro_tile(int64_t mr, int64_t nr, int64_t kc, const T* ap, const T* bp, int64_t ldbp, T alpha, T* c,
                int64_t ldc) {
  T acc[kMR][kNR] = {};
  if (mr == kMR && nr == kNR) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < kMR; ++r)
        for (int64_t j = 0; j < kNR; ++j) acc[r][j] += ap[p * kMR + r] * bp[p * ldbp + j];
  } else {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; ++j) acc[r][j] += ap[p * kMR + r] * bp[p * ldbp + j];
  }
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] += alpha * acc[r][j];
}

template <typename T>
void gemm_fallback(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                   int64_t ldb, T beta, T* c, int64_t ldc) {
  // beta first (beta == 0 overwrites, so NaN in C does not survive, as in BLAS).
  parallel_for(m, std::max<int64_t>(1, 16384 / n), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
  });
  if (alpha == T(0)) return;
  std::vector<T> bp(static_cast<size_t>(std::min(k, kKC) * std::min(n, kNC)));
  for (int64_t p0 = 0; p0 < k; p0 += kKC) {
    const int64_t kc = std::min(kKC, k - p0);
    for (int64_t j0 = 0; j0 < n; j0 += kNC) {
      const int64_t nc = std::min(kNC, n - j0);
      parallel_for(kc, 16, [&](int64_t q0, int64_t q1) {  // pack op(B)[p0.., j0..] as [kc][nc]
        for (int64_t p = q0; p < q1; ++p)
          for (int64_t j = 0; j < nc; ++j) bp[p * nc + j] = tb ? b[(j0 + j) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j];
      });
      const int64_t mblocks = (m + kMR - 1) / kMR;
      parallel_for(mblocks, std::max<int64_t>(1, 64 / std::max<int64_t>(1, nc / 256)), [&](int64_t b0, int64_t b1) {
        T ap[kKC * kMR];  // op(A)[i0..i0+MR, p0..p0+kc] as [kc][MR], zero-padded rows
        for (int64_t blk = b0; blk < b1; ++blk) {
          const int64_t i0 = blk * kMR, mr = std::min(kMR, m - i0);
          for (int64_t p = 0; p < kc; ++p)
            for (int64_t r = 0; r < kMR; ++r)
              ap[p * kMR + r] = r < mr ? (ta ? a[(p0 + p) * lda + i0 + r] : a[(i0 + r) * lda + p0 + p]) : T(0);
          for (int64_t j = 0; j < nc; j += kNR)
            micro_tile<T>(mr, std::min(kNR, nc - j), kc, ap, bp.data() + j, nc, alpha, c + i0 * ldc + j0 + j, ldc);
        }
      });
    }
  }
}

#ifdef STEPWISE_HAVE_CBLAS
// OpenBLAS runs single-threaded (see ensure_single_threaded_blas) and the GEMM is split across stepwise's own pool
// instead: OpenBLAS's idle workers spin in sched_yield between calls, and on 2 cores they took a core from the
// pool's elementwise work (perf on base training: 43% of samples in sched_yield; a training step went from 205 to
// 136-149 ms). Each part is a block of whole rows (or whole columns) of C with the full k. Results are
// deterministic for a given thread count; like OpenBLAS's own threading before, the split changes the last bits
// against one call over the whole matrix (its edge kernels round differently), so a run's numbers depend on the
// core count, as they did.
void ensure_single_threaded_blas() {
#ifdef OPENBLAS_VERSION
  static const bool once = (openblas_set_num_threads(1), true);
  (void)once;
#endif
}

// One single-threaded CBLAS call (ensure_single_threaded_blas); overloaded so that gemm below serves both precisions.
void cblas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
void cblas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

template <typename T>
void split_over_pool(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                     int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int64_t kMinFlopsPerPart = int64_t(1) << 18;  // below this, waking a worker costs more than it saves
  ensure_single_threaded_blas();
  const int64_t work = m * n * k;
  const int64_t max_parts = std::max<int64_t>(1, std::min<int64_t>(num_threads(), work / kMinFlopsPerPart));
  if (max_parts <= 1) {
    cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else if (m >= n || m >= 16 * max_parts) {  // rows of C: rows of op(A)
    parallel_for(max_parts, 1, [&](int64_t p0, int64_t p1) {
      const int64_t r0 = m * p0 / max_parts, r1 = m * p1 / max_parts;
      if (r1 > r0) cblas_gemm(ta, tb, r1 - r0, n, k, alpha, ta ? a + r0 : a + r0 * lda, lda, b, ldb, beta, c + r0 * ldc, ldc);
    });
  } else {  // columns of C: columns of op(B)
    parallel_for(max_parts, 1, [&](int64_t p0, int64_t p1) {
      const int64_t j0 = n * p0 / max_parts, j1 = n * p1 / max_parts;
      if (j1 > j0) cblas_gemm(ta, tb, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta, c + j0, ldc);
    });
  }
}
#endif

// The BLAS conventions for empty shapes (k == 0 scales C by beta, beta == 0 overwrites), then the CBLAS split or the
// portable fallback.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
#ifdef STEPWISE_HAVE_CBLAS
  split_over_pool<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  gemm_fallback<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char* blas_backend() {
#ifdef STEPWISE_HAVE_CBLAS
  return STEPWISE_CBLAS_NAME;
#else
  return "fallback";
#endif
}

}  // namespace stepwise
