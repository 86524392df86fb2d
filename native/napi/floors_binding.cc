// Exports the benchmark floors (native/kernels/floors.h) as floorCopy, floorExp, floorSgemm, floorDeviceCopy. Every argument
// is checked here (type, integer, range, total allocation) and native exceptions (bad_alloc included) become
// JS errors, so a bad call from the benchmark can never crash the process.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include <unistd.h>

#include "kernels/floors.h"
#include "registry.h"

namespace stepwise::napi {
namespace {

// Largest total allocation a floor may make: half the physical memory (Linux overcommit would otherwise let a
// huge request "succeed" and the OOM killer end the process later), and never more than 16 GiB.
double max_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  double half = pages > 0 && page > 0 ? 0.5 * double(pages) * double(page) : 1024.0 * 1024 * 1024;
  return std::min(half, 16.0 * 1024 * 1024 * 1024);
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::floor(v) != v || v < lo || v > hi)
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected an integer in [" + std::to_string(int64_t(lo)) +
                                                ", " + std::to_string(int64_t(hi)) + "], got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

Napi::Object to_js(Napi::Env env, const floors::Timing& t) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array secs = Napi::Array::New(env, t.seconds.size());
  for (size_t i = 0; i < t.seconds.size(); ++i) secs.Set(static_cast<uint32_t>(i), t.seconds[i]);
  o.Set("seconds", secs);
  o.Set("work", t.work);
  o.Set("checksum", t.checksum);
  o.Set("threads", t.threads);
  o.Set("variant", t.variant);
  return o;
}

// Runs a floor and maps C++ failures to a JS Error naming the floor.
template <typename F>
Napi::Value guarded(Napi::Env env, const char* what, F&& fn) {
  try {
    return to_js(env, fn());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(what) + ": " + e.what());
  }
}

// floorCopy(bytes, reps): each of two buffers is `bytes` long.
Napi::Value FloorCopy(const Napi::CallbackInfo& info) {
  int64_t bytes = int_arg(info, 0, "bytes", 4096, std::floor(max_bytes() / 2));
  int reps = static_cast<int>(int_arg(info, 1, "reps", 1, 10000));
  return guarded(info.Env(), "floorCopy", [&] { return floors::copy_bandwidth(bytes, reps); });
}

// floorExp(elemsPerThread, passes, reps): elemsPerThread a multiple of 16 so the AVX2 loop has no tail.
Napi::Value FloorExp(const Napi::CallbackInfo& info) {
  int64_t elems = int_arg(info, 0, "elemsPerThread", 16, 1 << 20);
  if (elems % 16 != 0) throw Napi::RangeError::New(info.Env(), "elemsPerThread: expected a multiple of 16");
  int64_t passes = int_arg(info, 1, "passes", 1, 1e7);
  int reps = static_cast<int>(int_arg(info, 2, "reps", 1, 10000));
  // Minutes of work at most: a typo in passes should be an error, not a process that never returns.
  if (double(elems) * double(passes) * double(reps + 1) > 1e12)
    throw Napi::RangeError::New(info.Env(), "floorExp: elemsPerThread * passes * (reps + 1) must be at most 1e12");
  return guarded(info.Env(), "floorExp", [&] { return floors::exp_throughput(elems, passes, reps); });
}

// floorSgemm(m, n, k, transB, reps)
Napi::Value FloorSgemm(const Napi::CallbackInfo& info) {
  int64_t m = int_arg(info, 0, "m", 1, 1 << 20), n = int_arg(info, 1, "n", 1, 1 << 20);
  int64_t k = int_arg(info, 2, "k", 1, 1 << 20);
  if (info.Length() <= 3 || !info[3].IsBoolean()) throw Napi::TypeError::New(info.Env(), "transB: expected a boolean");
  bool trans_b = info[3].As<Napi::Boolean>().Value();
  int reps = static_cast<int>(int_arg(info, 4, "reps", 1, 10000));
  double bytes = 4.0 * (double(m) * double(k) + double(k) * double(n) + double(m) * double(n));
  // BLAS takes int dimensions/strides; every product must also fit the allocator.
  if (bytes > max_bytes() || double(m) * double(n) > 2147483647.0 || double(m) * double(k) > 2147483647.0 ||
      double(k) * double(n) > 2147483647.0)
    throw Napi::RangeError::New(info.Env(), "floorSgemm: m, n, k too large (over half the RAM, 16 GiB, or 2^31 elements)");
  if (2.0 * double(m) * double(n) * double(k) * double(reps + 1) > 1e13)
    throw Napi::RangeError::New(info.Env(), "floorSgemm: 2*m*n*k * (reps + 1) must be at most 1e13 FLOP");
  return guarded(info.Env(), "floorSgemm", [&] { return floors::sgemm_rate(m, n, k, trans_b, reps); });
}

// floorDeviceCopy(bytes, reps, device): throws a JS Error (never crashes) when CUDA is absent or fails.
Napi::Value FloorDeviceCopy(const Napi::CallbackInfo& info) {
  // Device memory is not bounded by host RAM: 8 GiB per buffer fits any GPU the project targets.
  int64_t bytes = int_arg(info, 0, "bytes", 4096, 8.0 * 1024 * 1024 * 1024);
  int reps = static_cast<int>(int_arg(info, 1, "reps", 1, 10000));
  int device = info.Length() > 2 && !info[2].IsUndefined() ? static_cast<int>(int_arg(info, 2, "device", 0, 1023)) : 0;
  return guarded(info.Env(), "floorDeviceCopy", [&] { return floors::device_copy_bandwidth(bytes, reps, device); });
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("floorCopy", Napi::Function::New(env, FloorCopy, "floorCopy"));
  exports.Set("floorExp", Napi::Function::New(env, FloorExp, "floorExp"));
  exports.Set("floorSgemm", Napi::Function::New(env, FloorSgemm, "floorSgemm"));
  exports.Set("floorDeviceCopy", Napi::Function::New(env, FloorDeviceCopy, "floorDeviceCopy"));
}

}  // namespace
}  // namespace stepwise::napi

STEPWISE_BINDING(floors, stepwise::napi::Register);
