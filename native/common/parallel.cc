#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace stepwise {
namespace {

thread_local bool tls_in_parallel = false;

// Spins briefly, then sleeps: the engine issues hundreds of parallel_for calls per training step, microseconds
// apart, and on a paravirtualised 2-core machine each futex wake/wait pair cost more than the elementwise work it
// dispatched (perf on base training: 14% of samples in futex wake/wait). A worker that just finished a part polls
// for the next job for kSpin before it sleeps on the condition variable; the caller polls for completion the same
// way. A thread sleeps only after it has published that it sleeps (sleepers_ / caller_sleeping_, seq_cst), and the
// other side notifies under the mutex whenever it sees that flag after publishing its own change, so no wake-up
// is lost (the Dekker pattern: at least one side sees the other's store).
constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls pred() for up to kSpin; true when it became true.
template <typename Pred>
bool spin_until(const Pred& pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return size_; }

  // Runs task(i, i + 1) for i in [0, parts) with part 0 on the caller. One job at a time (serialised by run_mu_).
  void run(int parts, RangeFn task) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    task_ = &task;
    error_ = nullptr;
    pending_.store(parts - 1);
    ++jobs_;
    job_.store(jobs_ << 16 | static_cast<uint64_t>(parts));  // seq_cst: publishes the fields above, then read sleepers_
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(mu_);
      cv_.notify_all();
    }
    run_part(task, 0);
    // seq_cst loads (not acquire): each side's flag store and the other side's load must be in one total order.
    const auto done = [this] { return pending_.load() == 0; };
    if (!spin_until(done)) {
      std::unique_lock<std::mutex> lk(mu_);
      caller_sleeping_.store(true);
      done_cv_.wait(lk, done);
      caller_sleeping_.store(false);
    }
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_part(RangeFn task, int i) {
    tls_in_parallel = true;
    try {
      task(i, i + 1);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
    tls_in_parallel = false;
  }
  void loop(int index) {
    uint64_t seen = 0;
    const auto job_or_stop = [&] { return job_.load() != seen || stop_.load(); };
    for (;;) {
      if (!spin_until(job_or_stop)) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1);  // seq_cst: publish, then (in wait's predicate) read job_
        cv_.wait(lk, job_or_stop);
        sleepers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = job_.load();
      // A worker outside the job reads nothing else of it: the caller may already be writing the next one.
      if (index >= static_cast<int>(seen & 0xffff)) continue;
      run_part(*task_, index);
      if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {  // seq_cst pair with the caller's flag
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_one();
      }
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  // task_ and error_ are written by the caller before it publishes job_ and read only by the job's participants,
  // which the caller waits for before it writes them again. job_ packs the job's serial number with its part
  // count (at most 256 threads), so one load tells a worker both whether there is a new job and whether it is in it.
  const RangeFn* task_ = nullptr;
  std::exception_ptr error_;
  uint64_t jobs_ = 0;
  std::atomic<uint64_t> job_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
};

int detect_threads() {
  if (const char* s = std::getenv("STEPWISE_NUM_THREADS")) {
    int v = std::atoi(s);
    if (v > 0) return std::min(v, 256);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

Pool& pool() {
  static Pool p(detect_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(int64_t n, int64_t grain, RangeFn fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_parts = (n + grain - 1) / grain;
  int parts = static_cast<int>(std::min<int64_t>(max_parts, tls_in_parallel ? 1 : num_threads()));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  const auto part = [&](int64_t i, int64_t) {
    int64_t b = n * i / parts, e = n * (i + 1) / parts;
    if (b < e) fn(b, e);
  };
  pool().run(parts, part);
}

}  // namespace stepwise
