// Training attention on sequences longer than its query chunk (128 rows): forward against a naive float64
// softmax(QK^T)V reference, backward against central finite differences on sampled q/k/v elements.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "model/ops.h"

using namespace stepwise::model;

int main() {
  const AttnShape sh{4, 2, 8};
  const std::vector<int64_t> off{0, 300, 430};  // 300 = 128 + 128 + 44 rows: three chunks; 130 = two
  const int64_t n = off.back(), qs = sh.heads * sh.hd, ks = sh.kv_heads * sh.hd, nseq = 2;
  std::mt19937 rng(1);
  std::normal_distribution<double> g(0, 1);
  std::vector<double> q(n * qs), k(n * ks), v(n * ks), c(n * qs);
  for (auto* x : {&q, &k, &v, &c})
    for (auto& e : *x) e = g(rng);
  std::vector<double> out(n * qs), lse(n * sh.heads);
  attention_forward<double>(out.data(), lse.data(), q.data(), k.data(), v.data(), off.data(), nseq, sh);

  int failures = 0;
  // Naive reference.
  double fwd_err = 0;
  const double scale = 1 / std::sqrt(double(sh.hd));
  for (int64_t s = 0; s < nseq; ++s)
    for (int64_t i = off[s]; i < off[s + 1]; ++i)
      for (int64_t h = 0; h < sh.heads; ++h) {
        const int64_t kvh = h / (sh.heads / sh.kv_heads);
        std::vector<double> w;
        double m = -1e300;
        for (int64_t j = off[s]; j <= i; ++j) {
          double d = 0;
          for (int64_t e = 0; e < sh.hd; ++e) d += q[i * qs + h * sh.hd + e] * k[j * ks + kvh * sh.hd + e];
          w.push_back(d * scale);
          m = std::max(m, d * scale);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - m));
        for (int64_t e = 0; e < sh.hd; ++e) {
          double o = 0;
          for (int64_t j = off[s]; j <= i; ++j) o += w[size_t(j - off[s])] / sum * v[j * ks + kvh * sh.hd + e];
          fwd_err = std::max(fwd_err, std::abs(o - out[i * qs + h * sh.hd + e]));
        }
        fwd_err = std::max(fwd_err, std::abs(m + std::log(sum) - lse[i * sh.heads + h]));
      }
  std::printf("%s forward vs naive reference (3 chunks)   %.3e\n", fwd_err < 1e-12 ? "ok  " : "FAIL", fwd_err);
  failures += fwd_err >= 1e-12;

  std::vector<double> dq(q.size()), dk(k.size()), dv(v.size());
  attention_backward<double>(dq.data(), dk.data(), dv.data(), c.data(), out.data(), lse.data(), q.data(), k.data(),
                             v.data(), off.data(), nseq, sh);
  auto loss = [&]() {
    std::vector<double> o(n * qs), l(n * sh.heads);
    attention_forward<double>(o.data(), l.data(), q.data(), k.data(), v.data(), off.data(), nseq, sh);
    double L = 0;
    for (size_t i = 0; i < o.size(); ++i) L += c[i] * o[i];
    return L;
  };
  double worst = 0;
  std::uniform_int_distribution<int64_t> pick(0, 1 << 30);
  for (auto [x, dx] : {std::pair{&q, &dq}, std::pair{&k, &dk}, std::pair{&v, &dv}})
    for (int t = 0; t < 40; ++t) {
      const size_t i = size_t(pick(rng) % int64_t(x->size()));
      const double x0 = (*x)[i], h = 1e-5;
      (*x)[i] = x0 + h;
      const double lp = loss();
      (*x)[i] = x0 - h;
      const double lm = loss();
      (*x)[i] = x0;
      const double num = (lp - lm) / (2 * h);
      worst = std::max(worst, std::abs(num - (*dx)[i]) / std::max({std::abs(num), std::abs((*dx)[i]), 1e-3}));
    }
  std::printf("%s backward vs finite differences (120 el.) %.3e\n", worst < 1e-6 ? "ok  " : "FAIL", worst);
  failures += worst >= 1e-6;
  std::printf(failures ? "%d FAILED\n" : "all passed\n", failures);
  return failures ? 1 : 0;
}
