// The decode path's parts against float64 references on fresh random inputs: the small-batch linear layer (AVX2
// and portable paths, every row count up to the streaming cut, ragged widths), attention over a paged cache with
// scattered block tables and grouped heads, the sampler's distribution (top-k, top-p, temperature) against exact
// probabilities, and that a warm generate() loop allocates nothing per step.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "model/cached_attention.h"
#include "model/kv_cache.h"
#include "model/linear_rows.h"
#include "model/sampling.h"

using namespace stepwise::model;

// Counts every allocation of the process, to check the decode loop makes none.
static std::atomic<long> g_allocs{0};
void* operator new(size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

int failures = 0;
void check(bool ok, const std::string& what, double value) {
  std::printf("%s %-66s %.3e\n", ok ? "ok  " : "FAIL", what.c_str(), value);
  if (!ok) ++failures;
}

void small_linear() {
  std::mt19937 rng(21);
  std::normal_distribution<double> nd;
  double worst = 0;
  for (int64_t in : {37, 64, 5}) {
    const int64_t out = 23;
    std::vector<float> w(static_cast<size_t>(in * out)), b(static_cast<size_t>(out)), x(static_cast<size_t>((kStreamRowsAvx2 + 1) * in));
    for (auto& v : w) v = float(nd(rng));
    for (auto& v : b) v = float(nd(rng));
    for (auto& v : x) v = float(nd(rng));
    for (int64_t n = 1; n <= kStreamRowsAvx2 + 1; ++n)  // +1: the first row count that goes to sgemm
      for (bool acc : {false, true}) {
        std::vector<float> y(size_t(n * out), 0.5f);
        linear_forward<float>(y.data(), x.data(), w.data(), b.data(), n, in, out, acc);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t j = 0; j < out; ++j) {
            double ref = (acc ? 0.5 : 0.0) + double(b[size_t(j)]);
            for (int64_t k = 0; k < in; ++k) ref += double(x[size_t(r * in + k)]) * double(w[size_t(j * in + k)]);
            worst = std::max(worst, std::abs(ref - double(y[size_t(r * out + j)])) / (1 + std::abs(ref)));
          }
      }
  }
  const char* mode = std::getenv("STEPWISE_PORTABLE_KERNELS") ? "portable" : "dispatched";
  check(worst < 1e-5, "linear_forward 1.." + std::to_string(kStreamRowsAvx2 + 1) + " rows (" + mode + ") == float64, rel", worst);
}

// Paged grouped-query attention of a few decode rows against a float64 loop over the same pool. Shapes cover
// the AVX2 item (hd a multiple of 8 up to 128: one to sixteen registers per head) and the portable loop (hd 4,
// 12, and everything when STEPWISE_PORTABLE_KERNELS=1), lengths below, at and past a block and not multiples of
// the 4-row and 8-lane steps. Inputs are fresh normals each run (seed printed).
template <typename T>
void paged_attention(const char* name, double tol, int64_t H, int64_t Hkv, int64_t hd, int64_t bs,
                     std::vector<int32_t> pos, uint32_t seed) {
  const int64_t KV = Hkv * hd, G = H / Hkv, n = int64_t(pos.size());
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  // Each row's blocks are scattered through the pool: a random permutation of all blocks, cut per row.
  std::vector<std::vector<int32_t>> tables;
  int64_t nblocks = 0;
  for (int32_t p : pos) nblocks += p / bs + 1;
  std::vector<int32_t> perm(static_cast<size_t>(nblocks));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int64_t r = 0, at = 0; r < n; ++r) {
    const int64_t cnt = pos[size_t(r)] / bs + 1;
    tables.emplace_back(perm.begin() + at, perm.begin() + at + cnt);
    at += cnt;
  }
  std::vector<T> k(size_t(nblocks * bs * KV)), v(k.size());
  for (auto& x : k) x = T(nd(rng));
  for (auto& x : v) x = T(nd(rng));
  std::vector<const int32_t*> tp;
  for (auto& t : tables) tp.push_back(t.data());
  std::vector<T> q(size_t(n * H * hd)), att(q.size());
  for (auto& x : q) x = T(2 * nd(rng));  // wide scores, so the softmax is far from uniform
  const int32_t longest = *std::max_element(pos.begin(), pos.end()) + 1;
  const KVPool<T> pool{k.data(), v.data(), bs * KV, bs, KV, longest};
  cached_attention<T>(att.data(), q.data(), n, pos.data(), tp.data(), pool, AttnShape{H, Hkv, hd});
  double worst = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / G, len = pos[size_t(r)] + 1;
      auto at = [&](const std::vector<T>& pool_v, int64_t j, int64_t d) {
        return double(pool_v[size_t((tables[size_t(r)][size_t(j / bs)] * bs + j % bs) * KV + kvh * hd + d)]);
      };
      std::vector<double> s(static_cast<size_t>(len));
      for (int64_t j = 0; j < len; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += double(q[size_t(r * H * hd + h * hd + d)]) * at(k, j, d);
        s[size_t(j)] = dot / std::sqrt(double(hd));
      }
      const double m = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (auto& x : s) z += (x = std::exp(x - m));
      for (int64_t d = 0; d < hd; ++d) {
        double o = 0;
        for (int64_t j = 0; j < len; ++j) o += s[size_t(j)] / z * at(v, j, d);
        worst = std::max(worst, std::abs(o - double(att[size_t(r * H * hd + h * hd + d)])));
      }
    }
  check(worst < tol,
        std::string(name) + ": paged attention H=" + std::to_string(H) + " Hkv=" + std::to_string(Hkv) +
            " hd=" + std::to_string(hd) + " bs=" + std::to_string(bs) + " == float64 (seed " + std::to_string(seed) + ")",
        worst);
}

// A NaN in one head's query reaches that head's output (the AVX2 exp keeps NaN) and no other head's.
void attention_nan_propagates(const char* name) {
  const int64_t H = 2, hd = 32, bs = 16;
  std::vector<float> k(size_t(2 * bs * H * hd), 0.25f), v(k.size(), -0.5f), q(size_t(H * hd), 0.1f), att(q.size());
  q[3] = std::nanf("");
  const std::vector<int32_t> table{1, 0}, pos{20};
  const int32_t* tp[] = {table.data()};
  const KVPool<float> pool{k.data(), v.data(), bs * H * hd, bs, H * hd, 21};
  cached_attention<float>(att.data(), q.data(), 1, pos.data(), tp, pool, AttnShape{H, H, hd});
  bool head0_nan = true, head1_finite = true;
  for (int64_t d = 0; d < hd; ++d) head0_nan = head0_nan && std::isnan(att[size_t(d)]), head1_finite = head1_finite && std::isfinite(att[size_t(hd + d)]);
  check(head0_nan && head1_finite && std::abs(att[size_t(hd)] + 0.5f) < 1e-6f, std::string(name) + ": NaN in one head's q -> NaN in that head only", 0);
}

template <typename T>
void paged_attention_shapes(const char* name, double tol, uint32_t seed) {
  paged_attention<T>(name, tol, 6, 2, 8, 5, {0, 7, 23}, seed);
  paged_attention<T>(name, tol, 4, 4, 32, 16, {0, 3, 4, 15, 16, 17, 70, 271}, seed + 1);
  paged_attention<T>(name, tol, 2, 1, 64, 16, {1, 9, 33, 130}, seed + 2);
  paged_attention<T>(name, tol, 2, 2, 128, 8, {0, 6, 40}, seed + 3);
  paged_attention<T>(name, tol, 3, 3, 24, 7, {2, 12, 29}, seed + 4);
  paged_attention<T>(name, tol, 4, 2, 4, 16, {0, 5, 19}, seed + 5);
  paged_attention<T>(name, tol, 2, 1, 12, 4, {3, 8, 13}, seed + 6);
}

// Exact probabilities of the sampler's rule, in double: order by (logit desc, id asc), keep top-k, temper, keep
// the smallest prefix holding top_p of the mass.
std::vector<double> reference_probs(const std::vector<float>& z, const SampleOptions& o) {
  const int64_t V = int64_t(z.size());
  std::vector<int32_t> idx(static_cast<size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
  int64_t k = o.top_k > 0 ? std::min<int64_t>(o.top_k, V) : V;
  std::vector<double> w(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += (w[size_t(i)] = std::exp((double(z[idx[size_t(i)]]) - double(z[idx[0]])) / o.temperature));
  double cum = 0;
  int64_t keep = 0;
  while (keep < k && (keep == 0 || cum < o.top_p * total)) cum += w[size_t(keep++)];
  std::vector<double> p(size_t(V), 0.0);
  for (int64_t i = 0; i < keep; ++i) p[size_t(idx[size_t(i)])] = w[size_t(i)] / cum;
  return p;
}

void sampler_distribution() {
  std::mt19937 rng(8);
  std::normal_distribution<double> nd;
  const int64_t V = 40, N = 200000;
  std::vector<float> z(static_cast<size_t>(V));
  for (auto& x : z) x = float(2 * nd(rng));
  z[7] = z[3];  // a tie, broken by the lower id
  struct Case {
    double t;
    int64_t k;
    double p;
  };
  std::vector<int32_t> idx(static_cast<size_t>(V));
  std::vector<double> pw(static_cast<size_t>(V));
  for (const Case& c : {Case{0.7, 10, 1.0}, Case{1.3, 0, 0.8}, Case{1.0, 12, 0.6}, Case{1.0, 0, 1.0}}) {
    SampleOptions o;
    o.temperature = c.t, o.top_k = c.k, o.top_p = c.p;
    const auto ref = reference_probs(z, o);
    std::vector<double> freq(size_t(V), 0.0);
    uint64_t state = 99;
    for (int64_t i = 0; i < N; ++i) freq[size_t(sample_row(z.data(), V, o, state, SampleScratch{idx.data(), pw.data()}))] += 1.0 / N;
    double worst_z = 0, outside = 0;
    for (int64_t j = 0; j < V; ++j) {
      const double p = ref[size_t(j)];
      if (p == 0) outside += freq[size_t(j)];
      else worst_z = std::max(worst_z, std::abs(freq[size_t(j)] - p) / std::sqrt(p * (1 - p) / N + 1e-12));
    }
    char what[96];
    std::snprintf(what, sizeof what, "sampler T=%.1f topK=%lld topP=%.1f: frequencies (max z-score)", c.t,
                  (long long)c.k, c.p);
    check(worst_z < 5 && outside == 0, what, worst_z);
  }
  SampleOptions greedy;
  greedy.temperature = 0;
  uint64_t state = 1;
  const int32_t g = sample_row(z.data(), V, greedy, state, SampleScratch{idx.data(), pw.data()});
  check(g == int32_t(std::max_element(z.begin(), z.end()) - z.begin()), "greedy sampler == argmax", 0);
}

void no_allocation_per_step() {
  ModelConfig c;
  c.vocab_size = 97, c.hidden_size = 32, c.intermediate_size = 48, c.num_layers = 2, c.num_heads = 4;
  c.num_kv_heads = 2, c.max_seq_len = 256;
  Model<float> m(c);
  m.init(3, 0.2);
  KVCache<float> cache(m, 4096, 8);
  std::vector<int32_t> prompt(20);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(i * 7 % 97);
  const int64_t root = cache.create(prompt.data(), int64_t(prompt.size()));
  cache.prefill({root});
  SampleOptions o;
  o.temperature = 1, o.top_k = 20, o.top_p = 0.9, o.seed = 4;
  auto allocations = [&](int64_t steps) {
    o.max_new_tokens = steps;
    const std::vector<int64_t> kids = cache.fork(root, 5);
    const long before = g_allocs.load();
    const auto out = cache.generate(kids, o);
    const long used = g_allocs.load() - before;
    for (int64_t k : kids) cache.release(k);
    return used;
  };
  allocations(60);  // warm: work buffers and per-thread scratch grow once
  const long few = allocations(4), many = allocations(60);
  check(few == many, "generate: allocations do not grow with steps (4 vs 60 steps: " + std::to_string(few) +
                         " vs " + std::to_string(many) + ")",
        double(many - few));
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t seed = std::getenv("STEPWISE_TEST_SEED") ? uint32_t(std::strtoul(std::getenv("STEPWISE_TEST_SEED"), nullptr, 10))
                                                        : std::random_device{}();
  small_linear();
  paged_attention_shapes<double>("float64", 1e-12, seed);
  const char* f32 = std::getenv("STEPWISE_PORTABLE_KERNELS") ? "float32 portable" : "float32 dispatched";
  paged_attention_shapes<float>(f32, 2e-5, seed);
  attention_nan_propagates(f32);
  sampler_distribution();
  no_allocation_per_step();
  if (failures) {
    std::printf("%d failures\n", failures);
    return 1;
  }
  // The AVX2 paths (attention item, small-batch linear) ran above; run again on the portable ones (the switch
  // is read once per process, hence a child process).
  if (!(argc > 1 && std::strcmp(argv[1], "--child") == 0) && !std::getenv("STEPWISE_PORTABLE_KERNELS")) {
    std::fflush(stdout);
    const std::string cmd = "STEPWISE_PORTABLE_KERNELS=1 STEPWISE_TEST_SEED=" + std::to_string(seed) + " '" + argv[0] + "' --child";
    if (std::system(cmd.c_str()) != 0) {
      std::printf("1 failures (portable run)\n");
      return 1;
    }
  }
  std::printf("all passed\n");
  return 0;
}
