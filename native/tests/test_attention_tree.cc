// Training attention over a segment forest (ops.h: a segment attends to its ancestors' rows, then causally to
// its own): forward against a naive float64 reference that lists each row's keys by walking the parents, and
// backward against central finite differences on sampled q/k/v elements, prefix rows (read by several
// children, so their dK / dV sum several branches) sampled separately. Random forests on fresh seeds: roots of
// 1..160 rows (some cross the 128-row chunk), children and grandchildren of 1..40 rows, siblings not adjacent
// to their parent (the gathered path) as well as first children right after it (the in-place path).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <tuple>
#include <vector>

#include "model/ops.h"

using namespace stepwise::model;

namespace {

int failures = 0;
void check(bool ok, const char* what, double value) {
  std::printf("%s %-60s %.3e\n", ok ? "ok  " : "FAIL", what, value);
  if (!ok) ++failures;
}

struct Forest {
  std::vector<int64_t> off{0};
  std::vector<int32_t> parents;
  int64_t rows() const { return off.back(); }
  int64_t nseq() const { return int64_t(parents.size()); }
  void add(int64_t len, int32_t parent) {
    off.push_back(off.back() + len);
    parents.push_back(parent);
  }
  // Rows a token of segment s may attend to (ancestors root first, then s's own rows up to and including `row`).
  std::vector<int64_t> keys(int64_t s, int64_t row) const {
    std::vector<int64_t> chain;
    for (int64_t x = parents[size_t(s)]; x >= 0; x = parents[size_t(x)]) chain.push_back(x);
    std::reverse(chain.begin(), chain.end());
    std::vector<int64_t> out;
    for (int64_t x : chain)
      for (int64_t j = off[size_t(x)]; j < off[size_t(x) + 1]; ++j) out.push_back(j);
    for (int64_t j = off[size_t(s)]; j <= row; ++j) out.push_back(j);
    return out;
  }
};

// Roots with two or three children each (some children with a child of their own), in pack order.
Forest random_forest(std::mt19937& rng, bool long_root) {
  std::uniform_int_distribution<int64_t> root_len(1, 24), kid_len(1, 40), kids(2, 3);
  Forest f;
  const int trees = 2 + int(rng() % 2);
  for (int t = 0; t < trees; ++t) {
    const int32_t root = int32_t(f.nseq());
    f.add(long_root && t == 0 ? 160 : root_len(rng), -1);
    const int64_t nk = kids(rng);
    for (int64_t c = 0; c < nk; ++c) {
      const int32_t kid = int32_t(f.nseq());
      f.add(kid_len(rng), root);
      if (rng() % 3 == 0) f.add(kid_len(rng), kid);  // a grandchild: keys are root + kid + itself
    }
  }
  f.add(1 + int64_t(rng() % 5), -1);  // a lone root after the trees
  return f;
}

void run(uint32_t seed, AttnShape sh, bool long_root) {
  std::mt19937 rng(seed);
  const Forest f = random_forest(rng, long_root);
  const int64_t n = f.rows(), qs = sh.heads * sh.hd, ks = sh.kv_heads * sh.hd;
  std::normal_distribution<double> g(0, 1);
  std::vector<double> q(n * qs), k(n * ks), v(n * ks), c(n * qs);
  for (auto* x : {&q, &k, &v, &c})
    for (auto& e : *x) e = g(rng);
  auto fwd = [&](std::vector<double>& o, std::vector<double>& l) {
    o.assign(size_t(n * qs), 0);
    l.assign(size_t(n * sh.heads), 0);
    attention_forward<double>(o.data(), l.data(), q.data(), k.data(), v.data(), f.off.data(), f.nseq(), sh,
                              f.parents.data());
  };
  std::vector<double> out, lse;
  fwd(out, lse);

  double fwd_err = 0;
  const double scale = 1 / std::sqrt(double(sh.hd));
  for (int64_t s = 0; s < f.nseq(); ++s)
    for (int64_t i = f.off[size_t(s)]; i < f.off[size_t(s) + 1]; ++i) {
      const std::vector<int64_t> keys = f.keys(s, i);
      for (int64_t h = 0; h < sh.heads; ++h) {
        const int64_t kvh = h / (sh.heads / sh.kv_heads);
        std::vector<double> w;
        double m = -1e300;
        for (int64_t j : keys) {
          double d = 0;
          for (int64_t e = 0; e < sh.hd; ++e) d += q[i * qs + h * sh.hd + e] * k[j * ks + kvh * sh.hd + e];
          w.push_back(d * scale);
          m = std::max(m, d * scale);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - m));
        for (int64_t e = 0; e < sh.hd; ++e) {
          double o = 0;
          for (size_t jj = 0; jj < keys.size(); ++jj) o += w[jj] / sum * v[keys[jj] * ks + kvh * sh.hd + e];
          fwd_err = std::max(fwd_err, std::abs(o - out[i * qs + h * sh.hd + e]));
        }
        fwd_err = std::max(fwd_err, std::abs(m + std::log(sum) - lse[i * sh.heads + h]));
      }
    }
  char what[160];
  std::snprintf(what, sizeof what, "seed %u: forward vs naive tree reference (%lld rows, %lld seg)", seed,
                (long long)n, (long long)f.nseq());
  check(fwd_err < 1e-12, what, fwd_err);

  std::vector<double> dq(q.size()), dk(k.size()), dv(v.size());
  attention_backward<double>(dq.data(), dk.data(), dv.data(), c.data(), out.data(), lse.data(), q.data(), k.data(),
                             v.data(), f.off.data(), f.nseq(), sh, f.parents.data());
  auto loss = [&]() {
    std::vector<double> o, l;
    fwd(o, l);
    double L = 0;
    for (size_t i = 0; i < o.size(); ++i) L += c[i] * o[i];
    return L;
  };
  auto fd_error = [&](std::vector<double>& x, const std::vector<double>& dx, size_t i) {
    const double x0 = x[i], h = 1e-5;
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    const double num = (lp - lm) / (2 * h);
    // The floor 1e-2 keeps round-off of the O(100) loss (~1e-9 in a central difference) from posing as an error.
    return std::abs(num - dx[i]) / std::max({std::abs(num), std::abs(dx[i]), 1e-2});
  };
  double worst = 0, worst_prefix = 0;
  for (auto [x, dx, w] : {std::tuple{&q, &dq, qs}, std::tuple{&k, &dk, ks}, std::tuple{&v, &dv, ks}}) {
    for (int t = 0; t < 30; ++t) worst = std::max(worst, fd_error(*x, *dx, size_t(rng() % x->size())));
    // Rows of the first root: every child of that tree reads them.
    for (int t = 0; t < 10; ++t)
      worst_prefix = std::max(worst_prefix, fd_error(*x, *dx, size_t(rng() % uint32_t(f.off[1] * w))));
  }
  std::snprintf(what, sizeof what, "seed %u: backward vs finite differences (90 random elements)", seed);
  check(worst < 1e-6, what, worst);
  std::snprintf(what, sizeof what, "seed %u: backward vs finite differences (30 shared-prefix el.)", seed);
  check(worst_prefix < 1e-6, what, worst_prefix);
}

}  // namespace

int main() {
  std::random_device rd;  // fresh inputs every run; the seed is printed so a failure can be replayed
  const uint32_t base = rd();
  run(base, AttnShape{4, 2, 8}, false);
  run(base + 1, AttnShape{2, 1, 6}, false);
  run(base + 2, AttnShape{3, 3, 4}, true);
  std::printf(failures ? "%d FAILED\n" : "all passed\n", failures);
  return failures ? 1 : 0;
}
