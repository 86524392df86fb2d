// Tests of the CPU GEMM (sgemm/dgemm, OpenBLAS split over stepwise's pool or the portable fallback) against a
// long-double reference, and of the thread pool behind parallel_for: every index visited exactly once, exceptions
// rethrown on the caller, nested calls serial, concurrent callers serialised, and jobs spaced so that workers go
// through both the spinning and the sleeping wait. A plain executable: prints failures, exits non-zero on any.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/blas.h"
#include "common/parallel.h"

using namespace stepwise;
using LD = long double;

static int g_failures = 0;
static int g_checks = 0;

static void check(bool ok, const char* what, long a = -1, long b = -1) {
  ++g_checks;
  if (!ok && ++g_failures <= 30) std::printf("FAIL %s (%ld, %ld)\n", what, a, b);
}

// C = alpha op(A) op(B) + beta C over padded row strides; C starts as random values (or NaN when beta == 0, which
// must not survive). Checks every element, and that the padding columns of C are untouched.
template <typename T>
static void gemm_case(std::mt19937& rng, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, T beta) {
  std::normal_distribution<double> nd(0.0, 1.0);
  const int64_t pad = 3;
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  std::vector<T> a(a_rows * lda), b(b_rows * ldb), c(m * ldc);
  for (auto& x : a) x = static_cast<T>(nd(rng));
  for (auto& x : b) x = static_cast<T>(nd(rng));
  for (auto& x : c) x = beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(nd(rng));
  const std::vector<T> c0 = c;
  if constexpr (sizeof(T) == 4) {
    sgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  } else {
    dgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  }
  const LD eps = sizeof(T) == 4 ? LD(2e-6) : LD(1e-14);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      LD dot = 0, mag = 0;
      for (int64_t p = 0; p < k; ++p) {
        const LD x = ta ? a[p * lda + i] : a[i * lda + p];
        const LD y = tb ? b[j * ldb + p] : b[p * ldb + j];
        dot += x * y;
        mag += std::fabs(x * y);
      }
      const LD prior = beta == T(0) ? LD(0) : LD(beta) * c0[i * ldc + j];
      const LD want = LD(alpha) * dot + prior;
      const LD tol = eps * (std::fabs(LD(alpha)) * mag + std::fabs(prior) + 1) * std::sqrt(LD(k + 1)) * 4;
      const LD got = c[i * ldc + j];
      check(std::fabs(got - want) <= tol, sizeof(T) == 4 ? "sgemm element" : "dgemm element", i, j);
    }
    for (int64_t j = n; j < ldc; ++j) {
      const T was = c0[i * ldc + j], now = c[i * ldc + j];
      check(now == was || (std::isnan(now) && std::isnan(was)), "gemm wrote outside C", i, j);
    }
  }
}

static void test_gemm() {
  std::mt19937 rng(20261202);
  // Shapes that stay in one call, split C by rows (m >= n) and by columns (n > m, m small), odd sizes that leave
  // unequal parts, and the engine's own shapes (tokens x 128 against 128 x 352 and the transposed gradients).
  const int64_t shapes[][3] = {{1, 1, 1},    {3, 5, 7},     {17, 9, 33},   {64, 64, 64},   {257, 31, 129},
                               {7, 901, 65}, {2, 2048, 128}, {513, 352, 128}, {128, 128, 700}, {1000, 3, 97}};
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t) {
      gemm_case<float>(rng, t & 1, t & 2, s[0], s[1], s[2], 1.0f, 0.0f);
      gemm_case<double>(rng, t & 1, t & 2, s[0], s[1], s[2], 1.0, 0.0);
    }
  gemm_case<float>(rng, false, true, 300, 200, 150, -0.5f, 1.0f);  // accumulation into C (weight gradients)
  gemm_case<float>(rng, true, false, 150, 400, 90, 2.0f, 0.25f);
  gemm_case<double>(rng, true, true, 333, 77, 55, 0.75, -1.5);
}

static void test_pool() {
  // Every index exactly once, across part counts and grains, with a pause between some jobs long enough for the
  // workers to stop spinning and sleep (the wake-up path) and none between others (the spinning path).
  for (int round = 0; round < 400; ++round) {
    const int64_t n = 1 + (round * 7919) % 5000, grain = 1 + round % 13;
    std::vector<std::atomic<int>> hits(n);
    parallel_for(n, grain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    int64_t wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    check(wrong == 0, "parallel_for visited an index other than once", round, wrong);
    if (round % 5 == 0) std::this_thread::sleep_for(std::chrono::microseconds(round % 3 == 0 ? 2000 : 60));
  }

  // An exception in any part reaches the caller, and the pool keeps working after it.
  for (int64_t bad : {int64_t(0), int64_t(999)}) {
    bool caught = false;
    try {
      parallel_for(1000, 1, [&](int64_t b, int64_t e) {
        if (b <= bad && bad < e) throw std::runtime_error("part failed");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    check(caught, "exception from a part was not rethrown", bad);
  }
  std::atomic<int64_t> sum{0};
  parallel_for(10000, 1, [&](int64_t b, int64_t e) {
    int64_t s = 0;
    for (int64_t i = b; i < e; ++i) s += i;
    sum += s;
  });
  check(sum.load() == int64_t(10000) * 9999 / 2, "pool broken after an exception", (long)sum.load());

  // Nested calls run serially inside the outer part; a GEMM inside a part is one call over the whole matrix.
  std::atomic<int64_t> inner{0};
  parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) parallel_for(100, 1, [&](int64_t x, int64_t y) { inner += y - x; });
  });
  check(inner.load() == 800, "nested parallel_for lost or repeated work", (long)inner.load());

  // Several threads calling at once: jobs are serialised, none is lost.
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int r = 0; r < 200; ++r) parallel_for(257, 1, [&](int64_t b, int64_t e) { total += e - b; });
    });
  for (auto& th : callers) th.join();
  check(total.load() == int64_t(4) * 200 * 257, "concurrent callers lost or repeated work", (long)total.load());
}

int main() {
  std::printf("blas backend: %s, threads: %d\n", blas_backend(), num_threads());
  test_gemm();
  test_pool();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  if (g_failures == 0) std::printf("all passed\n");
  return g_failures == 0 ? 0 : 1;
}
