// Helpers shared by the engine bindings (see model_common.h).
#include "model_common.h"

namespace stepwise::napi {

void throw_coded(Napi::Env env, const std::string& msg, const char* code, bool type_error) {
  Napi::Error err = type_error ? Napi::TypeError::New(env, msg) : Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

std::unique_lock<std::mutex> lock_sync(Napi::Env env, Engine& e, const char* what) {
  if (e.disposed) throw_coded(env, std::string(what) + ": used after dispose()", "ERR_DISPOSED");
  std::unique_lock<std::mutex> lk(e.mu, std::try_to_lock);
  if (!lk.owns_lock())
    throw_coded(env, std::string(what) + ": the model is busy with a pending job; await it first", "ERR_BUSY");
  return lk;
}

void EngineJob::Execute() {
  std::lock_guard<std::mutex> lk(e_->mu);
  if (e_->disposed) {
    Fail("model: used after dispose()", "ERR_DISPOSED");
    e_->free_models();
    return;
  }
  try {
    Run();
  } catch (const model::InputError& x) {
    Fail(x.what(), x.code.c_str());
  } catch (const model::ConfigError& x) {
    Fail(x.what(), "ERR_CONFIG");
  } catch (const std::bad_alloc&) {
    Fail("out of memory", "ERR_OUT_OF_MEMORY");
  } catch (const std::exception& x) {
    Fail(x.what(), "ERR_NATIVE");
  }
  if (e_->disposed) e_->free_models();  // dispose() was called while this job held the lock
}

void EngineJob::OnError(const Napi::Error& err) {
  Napi::Object o = err.Value();
  o.Set("code", Napi::String::New(Env(), code_));
  deferred_.Reject(o);
}

std::vector<int32_t> read_i32(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_coded(env, std::string(name) + ": expected an Int32Array", "ERR_ARGUMENT", true);
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

template <typename T>
std::vector<T> read_floats(Napi::Env env, Napi::Value v, const char* name) {
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    if (t.TypedArrayType() == napi_float32_array) {
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
    }
    if (t.TypedArrayType() == napi_float64_array) {
      Napi::Float64Array a = v.As<Napi::Float64Array>();
      return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  throw_coded(env, std::string(name) + ": expected a Float32Array or Float64Array", "ERR_ARGUMENT", true);
}
template std::vector<float> read_floats<float>(Napi::Env, Napi::Value, const char*);
template std::vector<double> read_floats<double>(Napi::Env, Napi::Value, const char*);

double read_number(Napi::Env env, Napi::Object o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw_coded(env, std::string(key) + ": expected a number", "ERR_ARGUMENT", true);
  return v.As<Napi::Number>().DoubleValue();
}

template <>
Napi::Value typed_array<float>(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  std::copy_n(data, n, a.Data());
  return a;
}
template <>
Napi::Value typed_array<double>(Napi::Env env, const double* data, size_t n) {
  Napi::Float64Array a = Napi::Float64Array::New(env, n);
  std::copy_n(data, n, a.Data());
  return a;
}

}  // namespace stepwise::napi
