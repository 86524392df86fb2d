// A small persistent thread pool and parallel_for, shared by the kernels and the engine.
// Why our own: std::async spawns a thread per call (too slow for per-layer work), and OpenMP would tie the
// build to libgomp's pool, which fights OpenBLAS's own threads. One pool per process, sized to the cores.
#pragma once
#include <cstdint>
#include <functional>  // (callers that pass std::function objects still compile)

namespace stepwise {

// A non-owning reference to a callable fn(int64_t, int64_t). std::function heap-allocates a lambda whose captures
// exceed its small buffer (16 bytes in libstdc++), which made every parallel_for of the decode loop allocate;
// this never does. The callable must outlive the call it is passed to (a lambda argument does).
class RangeFn {
 public:
  template <typename F>
  RangeFn(const F& f)  // NOLINT: implicit, so call sites pass lambdas as before
      : obj_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
  void operator()(int64_t b, int64_t e) const { call_(obj_, b, e); }

 private:
  const void* obj_;
  void (*call_)(const void*, int64_t, int64_t);
};

// Number of worker threads (including the caller). STEPWISE_NUM_THREADS overrides the core count.
int num_threads();

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous ranges of at least `grain`
// items; the calling thread takes one range. Exceptions thrown by fn are rethrown on the caller (the first).
// Nested calls run serially on the calling thread (no deadlock, no oversubscription).
void parallel_for(int64_t n, int64_t grain, RangeFn fn);

}  // namespace stepwise
