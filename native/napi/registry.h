// Each binding file registers its exports with STEPWISE_BINDING, so adding a file needs no edit elsewhere.
#pragma once
#include <napi.h>

#include <vector>

namespace stepwise::napi {

using Registrar = void (*)(Napi::Env env, Napi::Object exports);

struct Binding {
  const char* name;
  Registrar fn;
};
std::vector<Binding>& bindings();

struct RegisterBinding {
  RegisterBinding(const char* name, Registrar fn) { bindings().push_back({name, fn}); }
};

}  // namespace stepwise::napi

#define STEPWISE_BINDING(name, fn) static ::stepwise::napi::RegisterBinding stepwise_binding_##name(#name, fn)
