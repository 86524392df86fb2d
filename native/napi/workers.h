// One job type for every kernel binding, run either synchronously or on the libuv pool.
// The binding parses and validates its arguments and allocates its outputs on the JS thread (Args), then
// packs the kernel call into `run` (which must not touch napi_env: it sees only raw pointers) and an optional
// `finish` that copies scalar results (e.g. DPO reductions) into the result object back on the JS thread.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "args.h"

namespace stepwise::napi {

struct Job {
  std::function<void()> run;                                  // off the JS thread for async calls
  std::function<void(Napi::Env, Napi::Object)> finish;        // JS thread, after run; may be empty
};

// Runs the job now and returns args.result(); kernel failures become JS errors (ValueError -> RangeError).
Napi::Value run_sync(Args& args, Job job);

// Queues the job on the libuv pool and returns a Promise for args.result(). Every input and output object
// and every device buffer the job uses is held (Napi::Reference / shared_ptr) until the promise settles, so
// GC or dispose() cannot free them under the kernel. JS may still WRITE to host inputs while the job runs:
// the API documents "do not mutate inputs while a call is pending".
Napi::Value run_async(Args& args, Job job);

// Calls run_sync or run_async according to `async`.
inline Napi::Value run_job(Args& args, Job job, bool async) {
  return async ? run_async(args, std::move(job)) : run_sync(args, std::move(job));
}

}  // namespace stepwise::napi
