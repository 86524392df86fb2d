// Shared pieces of the engine bindings: the Engine state owned by a Model handle, a promise-returning worker
// base, argument readers and coded errors. Error codes (err.code) are mapped to typed errors in TypeScript:
// ERR_ARGUMENT, ERR_CONFIG, ERR_SEQ_TOO_LONG, ERR_DISPOSED, ERR_BUSY, ERR_STALE_FORWARD, ERR_CACHE_BUDGET,
// ERR_OUT_OF_MEMORY, ERR_NATIVE.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/model.h"

namespace stepwise::napi {

// One model and everything that needs exclusive use of it. Jobs lock `mu` on the worker thread; synchronous
// methods only try_lock (so the event loop never waits on a running job) and throw ERR_BUSY.
struct Engine {
  std::mutex mu;
  std::atomic<bool> disposed{false};
  std::unique_ptr<model::Model<float>> f;
  std::unique_ptr<model::Model<double>> d;
  int64_t bytes = 0;  // reported to V8 as external memory
  bool f64() const { return d != nullptr; }
  void free_models() {
    f.reset();
    d.reset();
  }
};

[[noreturn]] void throw_coded(Napi::Env env, const std::string& msg, const char* code, bool type_error = false);

// Locks the engine for a synchronous method: throws ERR_DISPOSED or ERR_BUSY instead of waiting.
std::unique_lock<std::mutex> lock_sync(Napi::Env env, Engine& e, const char* what);

// Runs a sync body and converts engine exceptions to coded JS errors.
template <typename F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const model::InputError& x) {
    throw_coded(env, x.what(), x.code.c_str());
  } catch (const model::ConfigError& x) {
    throw_coded(env, x.what(), "ERR_CONFIG");
  } catch (const std::bad_alloc&) {
    throw_coded(env, "out of memory", "ERR_OUT_OF_MEMORY");
  } catch (const std::exception& x) {
    throw_coded(env, x.what(), "ERR_NATIVE");
  }
}

// A job on the libuv pool that holds the engine (shared_ptr: dispose() while it runs frees at its end) and
// resolves a promise. Subclasses copy their inputs in the constructor and never touch napi_env in Run().
class EngineJob : public Napi::AsyncWorker {
 public:
  EngineJob(Napi::Env env, std::shared_ptr<Engine> e)
      : Napi::AsyncWorker(env), e_(std::move(e)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Queue_() {
    Queue();
    return deferred_.Promise();
  }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;
  void Fail(const std::string& msg, const char* code) {
    code_ = code;
    SetError(msg);
  }
  std::shared_ptr<Engine> e_;

 private:
  void Execute() override;
  void OnOK() override { deferred_.Resolve(Result(Env())); }
  void OnError(const Napi::Error& err) override;
  Napi::Promise::Deferred deferred_;
  std::string code_ = "ERR_NATIVE";
};

// Argument readers: they throw ERR_ARGUMENT (a TypeError) naming the argument.
std::vector<int32_t> read_i32(Napi::Env env, Napi::Value v, const char* name);
template <typename T>
std::vector<T> read_floats(Napi::Env env, Napi::Value v, const char* name);  // Float32Array or Float64Array
double read_number(Napi::Env env, Napi::Object o, const char* key, double fallback);
template <typename T>
Napi::Value typed_array(Napi::Env env, const T* data, size_t n);  // Float32Array for float, Float64Array for double

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static std::shared_ptr<Engine> engine_of(Napi::Env env, Napi::Value v, const char* name);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  ~ModelWrap() override;
  std::shared_ptr<Engine> engine;

 private:
  Napi::Value Tensors(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value Logits(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value GetTensor(const Napi::CallbackInfo& info);
  Napi::Value SetTensor(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
};

}  // namespace stepwise::napi
