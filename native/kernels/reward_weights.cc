// (b) Full-Step-DPO reward weighting (methods.md §4.3): per-segment softmax of scale_s * r over a ragged
// batch, and its analytic backward. These move kilobytes, so the cost that matters is call overhead; we
// compute in double (the inputs are fp32, the extra precision is free here) and only spread segments over
// threads when the batch is large enough to amortise the pool wake-up.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../common/parallel.h"
#include "kernels.h"

namespace stepwise {
namespace {

// Below this many elements one thread finishes in a few microseconds; waking the pool would cost more.
constexpr int64_t kParallelMinElements = 1 << 16;

// Runs fn(s) for every segment, in parallel only when the batch is large. Each segment is written by exactly
// one call, so the result does not depend on the thread count.
template <class Fn>
void for_segments(int64_t num_segments, int64_t total, const Fn& fn) {
  if (total < kParallelMinElements || num_segments < 2) {
    for (int64_t s = 0; s < num_segments; ++s) fn(s);
    return;
  }
  // Grain in segments chosen so that one range holds roughly kParallelMinElements / 4 elements on average.
  const int64_t avg = std::max<int64_t>(1, total / num_segments);
  const int64_t grain = std::max<int64_t>(1, (kParallelMinElements / 4) / avg);
  parallel_for(num_segments, grain, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) fn(s);
  });
}

}  // namespace

void reward_weights_forward(const RewardWeightsForward& a) {
  for_segments(a.num_segments, a.total, [&](int64_t s) {
    const int64_t b = a.offsets[s], e = a.offsets[s + 1];
    if (e <= b) return;  // empty segment: nothing to write
    const double k = static_cast<double>(a.scale[s]);
    // Max-shifted softmax: exp never overflows, and the largest term is exactly 1 so the sum is >= 1.
    double m = -INFINITY;
    for (int64_t i = b; i < e; ++i) m = std::max(m, k * static_cast<double>(a.rewards[i]));
    double sum = 0.0;
    for (int64_t i = b; i < e; ++i) sum += std::exp(k * static_cast<double>(a.rewards[i]) - m);
    const double inv = 1.0 / sum;
    // Recompute the exponentials rather than staging them in the fp32 output: keeps full double precision
    // until the one final rounding, at a cost that is irrelevant at these sizes.
    for (int64_t i = b; i < e; ++i)
      a.weights[i] = static_cast<float>(std::exp(k * static_cast<double>(a.rewards[i]) - m) * inv);
  });
}

void reward_weights_backward(const RewardWeightsBackward& a) {
  // d w_i / d r_j = k * w_i * (delta_ij - w_j)  =>  dr_i = k * w_i * (g_i - sum_j w_j g_j).
  for_segments(a.num_segments, a.total, [&](int64_t s) {
    const int64_t b = a.offsets[s], e = a.offsets[s + 1];
    if (e <= b) return;
    const double k = static_cast<double>(a.scale[s]);
    double dot = 0.0;
    for (int64_t i = b; i < e; ++i) dot += static_cast<double>(a.weights[i]) * static_cast<double>(a.grad_weights[i]);
    for (int64_t i = b; i < e; ++i) {
      const double w = a.weights[i];
      a.grad_rewards[i] = static_cast<float>(k * w * (static_cast<double>(a.grad_weights[i]) - dot));
    }
  });
}

}  // namespace stepwise
