#include "optimizer.h"

#include <cmath>

#include "common/parallel.h"

namespace stepwise::model {

template <typename T>
Optimizer<T>::Optimizer(Model<T>& m, const OptimizerConfig& c) : cfg(c), model_(m) {
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw ConfigError("optimizer.beta1: expected a number in [0, 1)");
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw ConfigError("optimizer.beta2: expected a number in [0, 1)");
  if (!(c.eps > 0)) throw ConfigError("optimizer.eps: expected a positive number");
  if (!(c.momentum >= 0 && c.momentum < 1)) throw ConfigError("optimizer.momentum: expected a number in [0, 1)");
  if (!(c.weight_decay >= 0)) throw ConfigError("optimizer.weightDecay: expected a number >= 0");
  if (!(c.max_grad_norm >= 0)) throw ConfigError("optimizer.maxGradNorm: expected a number >= 0 (0 = no clipping)");
  const size_t n = m.params.size();
  if (c.kind == OptimizerKind::AdamW) {
    m1.assign(n, T(0));
    m2.assign(n, T(0));
  } else if (c.momentum > 0) {
    m1.assign(n, T(0));
  }
}

template <typename T>
double Optimizer<T>::grad_norm() const {
  const std::vector<T>& g = model_.grads;
  const int64_t n = int64_t(g.size());
  const int64_t chunks = 64;  // fixed partition: the sum is the same whatever the thread count
  std::vector<double> part(chunks, 0.0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t i = c * n / chunks; i < (c + 1) * n / chunks; ++i) s += double(g[size_t(i)]) * double(g[size_t(i)]);
      part[size_t(c)] = s;
    }
  });
  double s = 0;
  for (double p : part) s += p;
  return std::sqrt(s);
}

template <typename T>
StepResult Optimizer<T>::step(double lr) {
  StepResult r;
  r.grad_norm = grad_norm();
  if (!std::isfinite(r.grad_norm)) {
    r.skipped = true;
    return r;
  }
  double clip = 1.0;
  if (cfg.max_grad_norm > 0 && r.grad_norm > cfg.max_grad_norm) clip = cfg.max_grad_norm / (r.grad_norm + 1e-6);
  ++t;
  T* p = model_.params.data();
  T* g = model_.grads.data();
  const double bc1 = 1.0 - std::pow(cfg.beta1, double(t)), bc2 = 1.0 - std::pow(cfg.beta2, double(t));
  for (const TensorInfo& ti : model_.layout.tensors) {
    const double wd = ti.decay ? cfg.weight_decay : 0.0;
    parallel_for(ti.size, 4096, [&](int64_t i0, int64_t i1) {
      for (int64_t i = ti.offset + i0; i < ti.offset + i1; ++i) {
        if (clip != 1.0) g[i] = T(double(g[i]) * clip);
        const double gi = g[i];
        if (cfg.kind == OptimizerKind::AdamW) {
          const double a = cfg.beta1 * double(m1[i]) + (1 - cfg.beta1) * gi;
          const double b = cfg.beta2 * double(m2[i]) + (1 - cfg.beta2) * gi * gi;
          m1[i] = T(a), m2[i] = T(b);
          const double upd = (a / bc1) / (std::sqrt(b / bc2) + cfg.eps);
          p[i] = T(double(p[i]) * (1 - lr * wd) - lr * upd);
        } else {
          double d = gi + wd * double(p[i]);
          if (cfg.momentum > 0) {
            const double buf = t == 1 ? d : cfg.momentum * double(m1[i]) + d;  // torch: first step buf = d
            m1[i] = T(buf);
            d = cfg.nesterov ? d + cfg.momentum * buf : buf;
          }
          p[i] = T(double(p[i]) - lr * d);
        }
      }
    });
  }
  return r;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace stepwise::model
