// Each binding file registers its exports with STEPWISE_BINDING, so adding a file needs no edit elsewhere.
#pragma once
#include <napi.h>

#include <string>
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

// Registers `name` (sync) and `nameAsync` (Promise) for one binding body F(info, async).
template <Napi::Value (*F)(const Napi::CallbackInfo&, bool)>
void export_pair(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return F(i, false); }, name));
  std::string an = std::string(name) + "Async";
  exports.Set(an, Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return F(i, true); }, an));
}

}  // namespace stepwise::napi

#define STEPWISE_BINDING(name, fn) static ::stepwise::napi::RegisterBinding stepwise_binding_##name(#name, fn)
