#include "floors.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

#include "../common/blas.h"
#include "../common/cpu_features.h"
#include "../common/parallel.h"
#include "../gpu/gpu.h"

namespace stepwise::floors {
namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Uninitialised allocation (new char[] does not zero); pages are first touched by the parallel fill below, so
// the page faults are paid before timing and each half lands where the thread that uses it runs.
std::unique_ptr<char[]> raw_alloc(int64_t bytes) { return std::unique_ptr<char[]>(new char[static_cast<size_t>(bytes)]); }

// One contiguous range per pool thread, aligned to 4 KiB so no two threads write the same page.
void parallel_ranges(int64_t bytes, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t page = 4096, pages = (bytes + page - 1) / page;
  parallel_for(pages, 1, [&](int64_t p0, int64_t p1) { fn(p0 * page, std::min(bytes, p1 * page)); });
}

// Portable Cephes expf (same constants as the AVX2 version); -O3 may vectorise it with the baseline ISA.
inline float exp_portable(float x) {
  x = std::min(std::max(x, -87.3365447504019f), 88.3762626647949f);
  float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  x -= fx * 0.693359375f;
  x -= fx * -2.12194440e-4f;
  float y = 1.9875691500E-4f;
  y = y * x + 1.3981999507E-3f;
  y = y * x + 8.3334519073E-3f;
  y = y * x + 4.1665795894E-2f;
  y = y * x + 1.6666665459E-1f;
  y = y * x + 5.0000001201E-1f;
  y = y * x * x + x + 1.0f;
  int32_t e = (static_cast<int32_t>(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return y * scale;
}

double exp_sweeps_portable(const float* in, float* out, int64_t n, int64_t passes) {
  double check = 0;
  for (int64_t p = 0; p < passes; ++p) {
    for (int64_t i = 0; i < n; ++i) out[i] = exp_portable(in[i]);
    check += out[p % n];
    asm volatile("" ::: "memory");
  }
  return check;
}

}  // namespace

Timing copy_bandwidth(int64_t bytes, int reps) {
  Timing t;
  t.variant = "memcpy";
  t.work = 2.0 * static_cast<double>(bytes);
  auto src = raw_alloc(bytes), dst = raw_alloc(bytes);
  char* s = src.get();
  char* d = dst.get();
  parallel_ranges(bytes, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) s[i] = static_cast<char>(i * 131 + 7);
    std::memset(d + b, 0, static_cast<size_t>(e - b));
  });
  t.threads = static_cast<int>(std::min<int64_t>(num_threads(), (bytes + 4095) / 4096));
  for (int r = -1; r < reps; ++r) {  // r = -1 is the warm-up pass
    double t0 = now();
    parallel_ranges(bytes, [&](int64_t b, int64_t e) { std::memcpy(d + b, s + b, static_cast<size_t>(e - b)); });
    double t1 = now();
    if (r >= 0) t.seconds.push_back(t1 - t0);
    t.checksum += static_cast<unsigned char>(d[(static_cast<int64_t>(r + 1) * 4099) % bytes]);
  }
  return t;
}

Timing exp_throughput(int64_t elems_per_thread, int64_t passes, int reps) {
  Timing t;
  const bool avx2 = cpu_has_avx2_fma();
  t.variant = avx2 ? "avx2-fma" : "portable";
  t.threads = num_threads();
  t.work = static_cast<double>(elems_per_thread) * static_cast<double>(passes) * t.threads;
  std::vector<double> checks(static_cast<size_t>(t.threads), 0.0);
  // One private L1-sized in/out pair per thread, filled before timing. Inputs look like shifted logits
  // (z - max in [-24, 0]) and differ per thread and per element.
  std::vector<std::vector<float>> ins(checks.size()), outs(checks.size());
  for (size_t w = 0; w < checks.size(); ++w) {
    ins[w].resize(static_cast<size_t>(elems_per_thread));
    outs[w].resize(static_cast<size_t>(elems_per_thread));
    for (int64_t i = 0; i < elems_per_thread; ++i)
      ins[w][static_cast<size_t>(i)] = -24.0f * static_cast<float>((i * 7919 + static_cast<int64_t>(w) * 104729) % 1000) / 1000.0f;
  }
  for (int r = -1; r < reps; ++r) {
    double t0 = now();
    // grain 1 over `threads` items: each pool thread sweeps exactly one buffer pair.
    parallel_for(t.threads, 1, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        const size_t i = static_cast<size_t>(w);
        checks[i] += avx2 ? exp_sweeps_avx2(ins[i].data(), outs[i].data(), elems_per_thread, passes)
                          : exp_sweeps_portable(ins[i].data(), outs[i].data(), elems_per_thread, passes);
      }
    });
    double t1 = now();
    if (r >= 0) t.seconds.push_back(t1 - t0);
  }
  for (double c : checks) t.checksum += c;
  return t;
}

Timing sgemm_rate(int64_t m, int64_t n, int64_t k, bool trans_b, int reps) {
  Timing t;
  t.variant = blas_backend();
  t.threads = num_threads();
  t.work = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), c(static_cast<size_t>(m * n));
  // Small non-zero values: the portable fallback skips zero entries of A, so zeros would flatter it.
  uint32_t s = 12345;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>((s >> 8) & 0xffff) / 65536.0f - 0.5f;
  };
  for (auto& x : a) x = next();
  for (auto& x : b) x = next();
  const int64_t ldb = trans_b ? k : n;
  for (int r = -1; r < reps; ++r) {
    double t0 = now();
    sgemm(false, trans_b, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 0.0f, c.data(), n);
    double t1 = now();
    if (r >= 0) t.seconds.push_back(t1 - t0);
    t.checksum += c[static_cast<size_t>((r + 1) * 7 % (m * n))];
  }
  return t;
}

Timing device_copy_bandwidth(int64_t bytes, int reps, int device) {
  // Owns one device buffer; frees it on every exit path, never throwing from the destructor.
  struct DeviceBuf {
    void* p = nullptr;
    ~DeviceBuf() {
      try {
        if (p) gpu::free(p);
      } catch (...) {
      }
    }
  };
  Timing t;
  t.variant = "cuda-d2d";
  t.work = 2.0 * static_cast<double>(bytes);
  gpu::set_device(device);
  DeviceBuf src, dst;
  src.p = gpu::alloc(static_cast<size_t>(bytes));
  dst.p = gpu::alloc(static_cast<size_t>(bytes));
  for (int r = -1; r < reps; ++r) {
    double t0 = now();
    gpu::copy_device(dst.p, src.p, static_cast<size_t>(bytes));
    gpu::synchronize();
    double t1 = now();
    if (r >= 0) t.seconds.push_back(t1 - t0);
  }
  return t;
}

}  // namespace stepwise::floors
