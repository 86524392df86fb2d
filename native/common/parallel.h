// A small persistent thread pool and parallel_for, shared by the kernels and the engine.
// Why our own: std::async spawns a thread per call (too slow for per-layer work), and OpenMP would tie the
// build to libgomp's pool, which fights OpenBLAS's own threads. One pool per process, sized to the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace stepwise {

// Number of worker threads (including the caller). STEPWISE_NUM_THREADS overrides the core count.
int num_threads();

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous ranges of at least `grain`
// items; the calling thread takes one range. Exceptions thrown by fn are rethrown on the caller (the first).
// Nested calls run serially on the calling thread (no deadlock, no oversubscription).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace stepwise
