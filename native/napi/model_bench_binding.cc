// engineSgemmRate(m, n, k, repeats) -> best GFLOP/s of stepwise::sgemm at that shape (A [m,k] x B^T, B [n,k]),
// the denominator of the engine benchmark's "fraction of GEMM peak". Synchronous and meant for benchmarks only.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/blas.h"
#include "model_common.h"
#include "registry.h"

namespace stepwise::napi {

namespace {

Napi::Value SgemmRate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dim = [&](int i, const char* name, double hi) {
    const double x = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 1 && x <= hi) || x != double(int64_t(x)))
      throw_coded(env, std::string(name) + ": expected an integer in [1, " + std::to_string(int64_t(hi)) + "]",
                  "ERR_ARGUMENT");
    return int64_t(x);
  };
  const int64_t m = dim(0, "m", 16384), n = dim(1, "n", 65536), k = dim(2, "k", 16384), reps = dim(3, "repeats", 100);
  if (m * k + n * k + m * n > (int64_t(1) << 28)) throw_coded(env, "m, n, k: expected at most 2^28 floats in all", "ERR_ARGUMENT");
  std::vector<float> a(size_t(m * k)), b(size_t(n * k)), c(size_t(m * n));
  for (size_t i = 0; i < a.size(); ++i) a[i] = float((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = float((i * 40503u) % 1000) * 1e-3f - 0.5f;
  double best = 1e30;
  sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c.data(), n);  // warm-up (threads, packing)
  for (int64_t r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c.data(), n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return Napi::Number::New(env, 2.0 * double(m) * double(n) * double(k) / best / 1e9);
}

void RegisterBench(Napi::Env env, Napi::Object exports) {
  exports.Set("engineSgemmRate", Napi::Function::New(env, SgemmRate, "engineSgemmRate"));
}

}  // namespace

STEPWISE_BINDING(model_bench, RegisterBench);

}  // namespace stepwise::napi
