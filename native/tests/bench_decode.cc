// Timing harness for the engine's decode path (not a test: it always exits 0 and asserts nothing).
//   bench_decode [steps=64] [prompt=128]
// For batches of 1..16 sequences of a d=256, L=4 model (the `stepwise bench engine` tree model), prints the wall
// and CPU milliseconds of one decode step inside KVCache::generate, then the same step taken apart: each linear
// layer at that row count, the LM head, and the sampler, so the remainder (norms, RoPE, attention, K/V writes,
// dispatch) is visible. STEPWISE_NUM_THREADS / OPENBLAS_NUM_THREADS set the threads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/parallel.h"
#include "model/kv_cache.h"

using namespace stepwise;
using namespace stepwise::model;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

// Median wall and least CPU milliseconds of `reps` runs of body.
struct Ms {
  double wall, cpu;
};
Ms time_ms(int reps, const std::function<void()>& body) {
  std::vector<double> w;
  double c = 1e30;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now(), c0 = cpu_now();
    body();
    c = std::min(c, cpu_now() - c0);
    w.push_back(now() - t0);
  }
  std::sort(w.begin(), w.end());
  return {1e3 * w[w.size() / 2], 1e3 * c};
}

ModelConfig tree_model() {
  ModelConfig c;
  c.vocab_size = 4096, c.hidden_size = 256, c.intermediate_size = 688, c.num_layers = 4, c.num_heads = 4;
  c.num_kv_heads = 2, c.max_seq_len = 1024;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t steps = argc > 1 ? std::atoi(argv[1]) : 64, prompt = argc > 2 ? std::atoi(argv[2]) : 128;
  std::printf("bench_decode: d256 L4 V4096, prompt %lld, %lld steps, %d threads, load %s\n", (long long)prompt,
              (long long)steps, num_threads(), loadavg().c_str());
  Model<float> m(tree_model());
  m.init(2, 0.05);
  const ModelConfig& c = m.cfg;
  std::vector<int32_t> toks(static_cast<size_t>(prompt));
  for (int64_t i = 0; i < prompt; ++i) toks[size_t(i)] = int32_t((i * 37) % c.vocab_size);
  SampleOptions so;
  so.max_new_tokens = steps, so.temperature = 1, so.top_k = 50, so.seed = 3;
  std::printf("%4s %10s %10s | per-step parts (CPU ms): %s\n", "B", "step wall", "step cpu",
              "qkvo  mlp  head  sample  rest");
  for (int64_t B : {1, 2, 4, 8, 16}) {
    KVCache<float> cache(m, 16384, 16);
    const int64_t root = cache.create(toks.data(), prompt);
    cache.prefill({root});
    Ms gen{0, 0};
    {
      std::vector<int64_t> kids = cache.fork(root, B);
      cache.generate(kids, so);  // warm-up: buffers grow once
      for (int64_t k : kids) cache.release(k);
      gen = time_ms(3, [&] {
        std::vector<int64_t> ks = cache.fork(root, B);
        cache.generate(ks, so);
        for (int64_t k : ks) cache.release(k);
      });
    }
    const double step_wall = gen.wall / double(steps), step_cpu = gen.cpu / double(steps);
    // The parts at B rows, each repeated as often as one step runs it.
    const int64_t D = c.hidden_size, F = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim(), V = c.vocab_size;
    std::vector<float> x(size_t(B * F), 0.01f), y(size_t(B * V));
    const float* P = m.params.data();
    const LayerOffsets& o = m.layout.layers[0];
    const int reps = 20;
    const Ms qkvo = time_ms(reps, [&] {
      for (int64_t l = 0; l < c.num_layers; ++l) {
        linear_forward<float>(y.data(), x.data(), P + o.wq, nullptr, B, D, Q, false);
        linear_forward<float>(y.data(), x.data(), P + o.wk, nullptr, B, D, KV, false);
        linear_forward<float>(y.data(), x.data(), P + o.wv, nullptr, B, D, KV, false);
        linear_forward<float>(y.data(), x.data(), P + o.wo, nullptr, B, Q, D, true);
      }
    });
    const Ms mlp = time_ms(reps, [&] {
      for (int64_t l = 0; l < c.num_layers; ++l) {
        linear_forward<float>(y.data(), x.data(), P + o.wgate, nullptr, B, D, F, false);
        linear_forward<float>(y.data(), x.data(), P + o.wup, nullptr, B, D, F, false);
        linear_forward<float>(y.data(), x.data(), P + o.wdown, nullptr, B, F, D, true);
      }
    });
    const Ms head = time_ms(reps, [&] { linear_forward<float>(y.data(), x.data(), m.lm_head(), nullptr, B, D, V, false); });
    // Sampling alone: generate with a cache whose step is as cheap as it gets is not separable, so time the
    // sampler's work directly through a 1-token generate minus an advance.
    KVCache<float> c2(m, 16384, 16);
    const int64_t r2 = c2.create(toks.data(), 2);
    c2.prefill({r2});
    std::vector<float> lg(size_t(B * V));
    SampleOptions one = so;
    one.max_new_tokens = 1;
    const Ms adv = time_ms(reps, [&] {
      std::vector<int64_t> ks = c2.fork(r2, B);
      c2.advance(ks, lg.data());
      for (int64_t k : ks) c2.release(k);
    });
    const Ms gen1 = time_ms(reps, [&] {
      std::vector<int64_t> ks = c2.fork(r2, B);
      c2.generate(ks, one);
      for (int64_t k : ks) c2.release(k);
    });
    const double sample = std::max(0.0, gen1.cpu - adv.cpu);
    std::printf("%4lld %8.2fms %8.2fms | %5.2f %5.2f %5.2f %6.2f %6.2f\n", (long long)B, step_wall, step_cpu,
                qkvo.cpu, mlp.cpu, head.cpu, sample, step_cpu - qkvo.cpu - mlp.cpu - head.cpu - sample);
  }
  return 0;
}
