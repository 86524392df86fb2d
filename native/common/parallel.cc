#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace stepwise {
namespace {

thread_local bool tls_in_parallel = false;

class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return size_; }

  // Runs task(i, i + 1) for i in [0, parts) with part 0 on the caller. One job at a time (serialised by run_mu_).
  void run(int parts, RangeFn task) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      task_ = &task;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
      error_ = nullptr;
    }
    cv_.notify_all();
    run_part(task, 0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
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
    for (;;) {
      const RangeFn* task;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        task = task_;
        if (index >= parts_) continue;
      }
      run_part(*task, index);
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const RangeFn* task_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
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
