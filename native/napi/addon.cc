// Module entry: runs every registered binding and exports backends(), the one place that says what is usable.
#include <napi.h>

#include <string>

#include "common/blas.h"
#include "common/cpu_features.h"
#include "common/parallel.h"
#include "gpu/gpu.h"
#include "registry.h"

namespace stepwise::napi {

std::vector<Binding>& bindings() {
  static std::vector<Binding> list;
  return list;
}

namespace {

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("usable", true);
  cpu.Set("threads", num_threads());
  cpu.Set("avx2", cpu_has_avx2_fma());
  cpu.Set("blas", blas_backend());
  out.Set("cpu", cpu);

  Napi::Object cuda = Napi::Object::New(env);
  std::string why;
  bool ok = false;
  try {
    ok = gpu::available(&why);
  } catch (const std::exception& e) {
    why = e.what();
  }
  cuda.Set("compiled", gpu::compiled());
  cuda.Set("usable", ok);
  Napi::Array devices = Napi::Array::New(env);
  if (ok) {
    int n = gpu::device_count();
    for (int i = 0; i < n; ++i) devices.Set(static_cast<uint32_t>(i), gpu::device_name(i));
  } else {
    cuda.Set("reason", why);
  }
  cuda.Set("devices", devices);
  out.Set("cuda", cuda);
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  for (const Binding& b : bindings()) b.fn(env, exports);
  return exports;
}

}  // namespace stepwise::napi

static Napi::Object InitStepwise(Napi::Env env, Napi::Object exports) { return stepwise::napi::Init(env, exports); }

NODE_API_MODULE(stepwise_native, InitStepwise)
