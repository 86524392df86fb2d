// Timing harness for the CPU step log-prob kernels (not a test: it always exits 0 and asserts nothing).
//   bench_step_logprob logits|hidden|all [reps] [N for logits, default 4096]   (no arguments: prints usage)
// Prints best and median over `reps` runs: Gelem/s (elements = N*V per pass set) for the logits path, and
// GFLOP/s for the from-hidden path next to a plain sgemm of the same shape measured in the same run.
// STEPWISE_PORTABLE_KERNELS=1 times the portable fallback; STEPWISE_NUM_THREADS sets the threads.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/blas.h"
#include "common/dtype.h"
#include "common/parallel.h"
#include "kernels/kernels.h"
#include "kernels/step_logprob_hidden.h"
#include "kernels/step_logprob_rows.h"

using namespace stepwise;
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double cpu_now() {  // process CPU seconds, all threads
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// best / median wall seconds, and the least CPU seconds (all threads) of one run. On a shared machine the
// CPU time says what the kernel costs when it has the cores; wall time says what it got.
struct Stats { double best, median, cpu; };
// Runs prep (untimed) then body, reps times.
Stats time_it(int reps, const std::function<void()>& prep, const std::function<void()>& body) {
  std::vector<double> t;
  double cpu = 1e30;
  for (int i = 0; i < reps; ++i) {
    if (prep) prep();
    const double t0 = now(), c0 = cpu_now();
    body();
    cpu = std::min(cpu, cpu_now() - c0);
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2], cpu};
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

// Approximately N(0, 3) logits with a heavy-ish tail (sum of uniforms), fast enough for 600M values.
void fill_logits(float* z, int64_t count, uint64_t seed) {
  parallel_for(count, 1 << 20, [&](int64_t b, int64_t e) {
    uint64_t s = seed ^ (static_cast<uint64_t>(b) * 0x9E3779B97F4A7C15ull);
    for (int64_t i = b; i < e; ++i) {
      float acc = 0;
      for (int k = 0; k < 4; ++k) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        acc += static_cast<float>(s >> 40) * (1.0f / 16777216.0f) - 0.5f;
      }
      z[i] = acc * 5.2f;  // sd of a sum of 4 U(-.5,.5) is 0.577
    }
  });
}

void bench_logits(int reps, int64_t n) {
  for (int64_t v : {32000, 151936}) {
    std::vector<float> master(static_cast<size_t>(n * v));
    fill_logits(master.data(), n * v, 42 + v);
    std::vector<int32_t> targets(n), steps(n);
    for (int64_t t = 0; t < n; ++t) {
      targets[t] = static_cast<int32_t>((t * 7919) % v);
      steps[t] = static_cast<int32_t>(t / 64);
    }
    const int64_t num_steps = n / 64;
    std::vector<float> logp(n), lse(n), ent(n), ss(num_steps), gt(n, 0.5f), gs(num_steps, 0.25f);
    std::vector<uint8_t> hit(n);
    for (DType dt : {DType::F32, DType::BF16}) {
      std::vector<uint8_t> buf(static_cast<size_t>(n * v) * dtype_size(dt));
      auto restore = [&] {
        if (dt == DType::F32) {
          std::memcpy(buf.data(), master.data(), buf.size());
        } else {
          uint16_t* b = reinterpret_cast<uint16_t*>(buf.data());
          parallel_for(n * v, 1 << 20, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) b[i] = f32_to_bf16(master[i]); });
        }
      };
      restore();
      StepLogprobForward f;
      f.logits = buf.data(); f.dtype = dt; f.n = n; f.v = v; f.targets = targets.data(); f.step_index = steps.data();
      f.num_steps = num_steps; f.token_logp = logp.data(); f.step_sum = ss.data(); f.lse = lse.data();
      StepLogprobBackward b;
      b.logits = buf.data(); b.dtype = dt; b.n = n; b.v = v; b.targets = targets.data(); b.step_index = steps.data();
      b.num_steps = num_steps; b.lse = lse.data(); b.grad_token = gt.data(); b.grad_step = gs.data(); b.dlogits = buf.data();
      const double el = static_cast<double>(n) * v * 1e-9;
      const char* dn = dt == DType::F32 ? "f32 " : "bf16";
      const Stats fw = time_it(reps, nullptr, [&] { step_logprob_forward(f); });
      std::printf("logits %s N=%lld V=%6lld  forward                  best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / fw.best, el / fw.median, el / fw.cpu);
      f.entropy = ent.data(); f.argmax_hit = hit.data();
      const Stats fm = time_it(reps, nullptr, [&] { step_logprob_forward(f); });
      std::printf("logits %s N=%lld V=%6lld  forward +entropy +argmax  best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / fm.best, el / fm.median, el / fm.cpu);
      f.entropy = nullptr; f.argmax_hit = nullptr;
      const Stats fb = time_it(reps, restore, [&] { step_logprob_forward(f); step_logprob_backward(b); });
      std::printf("logits %s N=%lld V=%6lld  forward, backward in place best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / fb.best, el / fb.median, el / fb.cpu);
      // The fused path (kernels.h (a+)): forward + unscaled softmax - onehot in place, then, when the consumer
      // cannot fold the per-token scale in, the row scale that materialises dlogits.
      StepLogprobGradScale sc;
      sc.grad = buf.data(); sc.dtype = dt; sc.n = n; sc.v = v; sc.targets = targets.data(); sc.step_index = steps.data();
      sc.num_steps = num_steps; sc.grad_token = gt.data(); sc.grad_step = gs.data();
      const Stats fu = time_it(reps, restore, [&] { step_logprob_forward_grad(f, buf.data()); });
      std::printf("logits %s N=%lld V=%6lld  fused fwd + unscaled grad  best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / fu.best, el / fu.median, el / fu.cpu);
      const Stats fs = time_it(reps, restore, [&] { step_logprob_forward_grad(f, buf.data()); step_logprob_grad_scale(sc); });
      std::printf("logits %s N=%lld V=%6lld  fused + row scale          best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / fs.best, el / fs.median, el / fs.cpu);
      restore();
      step_logprob_forward(f);
      const Stats bw = time_it(reps, restore, [&] { step_logprob_backward(b); });
      std::printf("logits %s N=%lld V=%6lld  backward in place alone    best %6.2f  median %6.2f Gelem/s  %5.2f per CPU-s\n", dn, (long long)n, (long long)v, el / bw.best, el / bw.median, el / bw.cpu);
      if (v == 32000) {  // the exact path, on fewer rows (it is libm-bound)
        restore();
        StepLogprobForward fe = f;
        fe.n = 256; fe.exact = true; fe.step_index = nullptr;
        const Stats ex = time_it(std::max(1, reps / 2), nullptr, [&] { step_logprob_forward(fe); });
        std::printf("logits %s N=%lld V=%6lld  forward exact (libm)      best %6.2f  median %6.2f Gelem/s\n", dn, 256LL, (long long)v, 256 * v * 1e-9 / ex.best, 256 * v * 1e-9 / ex.median);
      }
    }
  }
}

void bench_hidden(int reps) {
  const int64_t n = 2048, d = 896, v = 32000;
  std::vector<float> h(n * d), w(v * d), c(static_cast<size_t>(n) * v);
  fill_logits(h.data(), n * d, 1);
  fill_logits(w.data(), v * d, 2);
  for (auto& x : h) x *= 0.33f;
  for (auto& x : w) x *= 0.33f / 30.0f;  // logits with sd ~3 at d = 896
  const double fl = 2.0 * n * d * v * 1e-9;
  const Stats g = time_it(reps, nullptr, [&] { sgemm(false, true, n, v, d, 1.0f, h.data(), d, w.data(), d, 0.0f, c.data(), v); });
  std::printf("sgemm %lldx%lldx%lld (H W^T, %s)               best %6.1f  median %6.1f GFLOP/s\n", (long long)n, (long long)v, (long long)d, blas_backend(), fl / g.best, fl / g.median);
  std::vector<int32_t> targets(n), steps(n);
  for (int64_t t = 0; t < n; ++t) { targets[t] = static_cast<int32_t>((t * 7919) % v); steps[t] = static_cast<int32_t>(t / 64); }
  const int64_t ns = n / 64;
  std::vector<float> logp(n), lse(n), ss(ns), gt(n, 0.5f), gs(ns, 0.25f), dh(n * d), dw(v * d);
  for (DType dt : {DType::F32, DType::BF16}) {
    std::vector<uint16_t> hb, wb;
    if (dt == DType::BF16) {
      for (float x : h) hb.push_back(f32_to_bf16(x));
      for (float x : w) wb.push_back(f32_to_bf16(x));
    }
    StepLogprobHiddenForward f;
    f.hidden = dt == DType::F32 ? static_cast<const void*>(h.data()) : hb.data();
    f.weight = dt == DType::F32 ? static_cast<const void*>(w.data()) : wb.data();
    f.dtype = dt; f.n = n; f.d = d; f.v = v; f.targets = targets.data(); f.step_index = steps.data(); f.num_steps = ns;
    f.token_logp = logp.data(); f.step_sum = ss.data(); f.lse = lse.data();
    const lmhead::Plan pf = lmhead::make_plan(n, d, v, dt, 0, false), pb = lmhead::make_plan(n, d, v, dt, 0, true);
    const char* dn = dt == DType::F32 ? "f32 " : "bf16";
    // Interleaved with the plain sgemm, so both see the same background load: the median of the per-pair ratios
    // is the number to trust on a shared machine.
    std::vector<double> ratio;
    double fbest = 1e30;
    for (int r = 0; r < reps; ++r) {
      const Stats gs1 = time_it(1, nullptr, [&] { sgemm(false, true, n, v, d, 1.0f, h.data(), d, w.data(), d, 0.0f, c.data(), v); });
      const Stats fs = time_it(1, nullptr, [&] { step_logprob_hidden_forward(f); });
      ratio.push_back(gs1.best / fs.best);
      fbest = std::min(fbest, fs.best);
    }
    std::sort(ratio.begin(), ratio.end());
    std::printf("hidden %s N=%lld d=%lld V=%lld forward (2NdV)        best %6.1f GFLOP/s; vs sgemm run alternately: median %3.0f%%, range %3.0f-%3.0f%%  (tile %lldx%lld, scratch %.1f MiB)\n",
                dn, (long long)n, (long long)d, (long long)v, fl / fbest, 100 * ratio[ratio.size() / 2], 100 * ratio.front(), 100 * ratio.back(),
                (long long)pf.rows, (long long)pf.cols, pf.extra_bytes / 1048576.0);
    StepLogprobHiddenBackward b;
    b.hidden = f.hidden; b.weight = f.weight; b.dtype = dt; b.n = n; b.d = d; b.v = v; b.targets = targets.data();
    b.step_index = steps.data(); b.num_steps = ns; b.lse = lse.data(); b.grad_token = gt.data(); b.grad_step = gs.data();
    b.dhidden = dh.data(); b.dweight = dw.data();
    const Stats bw = time_it(std::max(1, reps / 2), nullptr, [&] { step_logprob_hidden_backward(b); });
    std::printf("hidden %s N=%lld d=%lld V=%lld backward (6NdV, recompute) best %6.1f  median %6.1f GFLOP/s  (%.0f%% of 3 sgemm; scratch %.1f MiB)\n",
                dn, (long long)n, (long long)d, (long long)v, 3 * fl / bw.best, 3 * fl / bw.median, 100.0 * 3 * g.best / bw.best,
                pb.extra_bytes / 1048576.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // CMake registers every native/tests/*.cc with ctest, which runs this without arguments: do nothing heavy
  // then (the full run needs ~6 GB and minutes).
  if (argc < 2) {
    std::printf("usage: bench_step_logprob logits|hidden|all [reps] [N for logits]  (no arguments: nothing run)\n");
    return 0;
  }
  const std::string what = argv[1];
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line-buffered, so a log file shows progress
  std::printf("bench_step_logprob: threads %d, row ops %s, blas %s, loadavg %s\n", num_threads(), rows::row_ops().name,
              blas_backend(), loadavg().c_str());
  if (what == "logits" || what == "all") bench_logits(reps, argc > 3 ? std::atoll(argv[3]) : 4096);
  if (what == "hidden" || what == "all") bench_hidden(reps);
  std::printf("loadavg after: %s\n", loadavg().c_str());
  return 0;
}
