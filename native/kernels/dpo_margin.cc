// (c) The DPO margin loss (methods.md §1.3, SPPD's per-pair margin §3.1, IPO), its analytic gradient and the
// batch reductions. Everything is computed in double: the inputs are token-sum log-probs, which can reach
// |1e4|, and beta*h - margin must not lose the small differences that decide the sign.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../common/parallel.h"
#include "kernels.h"

namespace stepwise {
namespace {

// log sigma(z) = min(z, 0) - log1p(exp(-|z|)): exp never overflows and no 1 - tiny cancellation occurs.
inline double log_sigmoid(double z) { return std::min(z, 0.0) - std::log1p(std::exp(-std::fabs(z))); }

// sigma(z) without overflow for either sign of z.
inline double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// Pairs per reduction block. Partial sums are kept per fixed block and combined in block order, so the
// reductions are bitwise identical whatever the number of threads.
constexpr int64_t kBlock = 4096;
// Below this many pairs the pool wake-up costs more than the arithmetic.
constexpr int64_t kParallelMinPairs = 1 << 15;

struct Partial {
  double loss = 0, correct = 0, chosen = 0, rejected = 0, margin = 0;
};

void run_block(const DpoMarginArgs& a, int64_t b, int64_t e, Partial* out) {
  const double beta = a.beta;
  const double eps = a.label_smoothing;
  const double scale = a.grad_scale;
  Partial p;
  for (int64_t i = b; i < e; ++i) {
    const double chosen_logratio = static_cast<double>(a.policy_chosen[i]) - static_cast<double>(a.ref_chosen[i]);
    const double rejected_logratio =
        static_cast<double>(a.policy_rejected[i]) - static_cast<double>(a.ref_rejected[i]);
    const double h = chosen_logratio - rejected_logratio;
    double loss, dloss_dh;
    if (a.loss_type == PreferenceLoss::Ipo) {
      // (h - 1/(2 beta))^2: the regression target of IPO (Azar et al.); margin and eps do not apply.
      const double r = h - 1.0 / (2.0 * beta);
      loss = r * r;
      dloss_dh = 2.0 * r;
    } else {
      const double z = beta * h - (a.margin ? static_cast<double>(a.margin[i]) : 0.0);
      loss = -(1.0 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z);
      // d/dz = -(1-eps) sigma(-z) + eps sigma(z), written as two products of non-negative terms so that the
      // eps = 0 case never forms sigma(z) - 1 (which cancels to 0 for large z).
      const double dz = -(1.0 - eps) * sigmoid(-z) + eps * sigmoid(z);
      dloss_dh = beta * dz;
    }
    a.loss[i] = static_cast<float>(loss);
    // h = (pc - rc) - (pr - rr): d h / d pc = +1, d h / d pr = -1.
    if (a.grad_chosen) a.grad_chosen[i] = static_cast<float>(scale * dloss_dh);
    if (a.grad_rejected) a.grad_rejected[i] = static_cast<float>(-scale * dloss_dh);
    const double cr = beta * chosen_logratio, rr = beta * rejected_logratio;
    p.loss += loss;
    p.correct += cr > rr ? 1.0 : 0.0;
    p.chosen += cr;
    p.rejected += rr;
    p.margin += beta * h;
  }
  *out = p;
}

}  // namespace

DpoReductions dpo_margin(const DpoMarginArgs& a) {
  DpoReductions r;
  const int64_t n = a.num_pairs;
  if (n <= 0) return r;  // all means 0 rather than 0/0
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<Partial> parts(static_cast<size_t>(blocks));
  auto body = [&](int64_t bb, int64_t be) {
    for (int64_t blk = bb; blk < be; ++blk)
      run_block(a, blk * kBlock, std::min(n, (blk + 1) * kBlock), &parts[static_cast<size_t>(blk)]);
  };
  if (n < kParallelMinPairs)
    body(0, blocks);
  else
    parallel_for(blocks, 1, body);
  Partial t;
  for (const Partial& p : parts) {
    t.loss += p.loss;
    t.correct += p.correct;
    t.chosen += p.chosen;
    t.rejected += p.rejected;
    t.margin += p.margin;
  }
  const double inv = 1.0 / static_cast<double>(n);
  r.mean_loss = t.loss * inv;
  r.reward_accuracy = t.correct * inv;
  r.chosen_reward = t.chosen * inv;
  r.rejected_reward = t.rejected * inv;
  r.margin = t.margin * inv;
  return r;
}

}  // namespace stepwise
