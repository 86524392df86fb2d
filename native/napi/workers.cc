// See workers.h. Errors from run() are classified on the worker thread (plain data only) and turned into
// the matching JS error class on the JS thread in OnError, since Napi objects may not be created in Execute.
#include "workers.h"

#include <exception>

namespace stepwise::napi {
namespace {

enum class Failure { None, Value, Other };

// Calls run() and classifies any exception; never lets one escape (a throw from a libuv thread would abort).
Failure guarded(const std::function<void()>& run, std::string* msg) {
  try {
    run();
    return Failure::None;
  } catch (const ValueError& e) {
    *msg = e.what();
    return Failure::Value;
  } catch (const std::exception& e) {
    *msg = e.what();
    return Failure::Other;
  } catch (...) {
    *msg = "unknown native exception";
    return Failure::Other;
  }
}

Napi::Error make_error(Napi::Env env, Failure f, const std::string& msg) {
  if (f == Failure::Value) return Napi::RangeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, Args& args, Job job)
      : Napi::AsyncWorker(env, "stepwise:kernel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)),
        buffers_(args.buffers()) {
    result_ = Napi::Persistent(args.result());
    // Hold every input/output so GC cannot collect a typed array whose memory run() is using.
    for (Napi::Value v : args.keep()) keep_.push_back(Napi::Persistent(v));
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    failure_ = guarded(job_.run, &message_);
    if (failure_ != Failure::None) SetError(message_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = result_.Value();
    try {
      if (job_.finish) job_.finish(env, result);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error&) override { deferred_.Reject(make_error(Env(), failure_, message_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  Napi::ObjectReference result_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  std::vector<std::shared_ptr<DeviceBuffer>> buffers_;  // released on the JS thread when the worker is deleted
  Failure failure_ = Failure::None;
  std::string message_;
};

}  // namespace

Napi::Value run_sync(Args& args, Job job) {
  std::string msg;
  Failure f = guarded(job.run, &msg);
  if (f != Failure::None) throw make_error(args.env(), f, msg);
  if (job.finish) job.finish(args.env(), args.result());
  return args.result();
}

Napi::Value run_async(Args& args, Job job) {
  auto* w = new KernelWorker(args.env(), args, std::move(job));
  Napi::Promise p = w->promise();
  w->Queue();  // the worker deletes itself after OnOK/OnError (on the JS thread)
  return p;
}

}  // namespace stepwise::napi
