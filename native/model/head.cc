// The LM head with per-token log-probs and per-step sums, computed from hidden states in row chunks so the
// [n, V] logits are never held whole. float goes through the shared kernel step_logprob_hidden_forward/backward
// (native/kernels, the same code the GPU path mirrors); double uses the plain implementation below, which is the
// exact reference for gradient checks and has the kernel's contract.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "kernels/kernels.h"
#include "ops.h"

namespace stepwise::model {

namespace {
// Rows per chunk: about 4M logits of scratch at most, whatever V is.
int64_t chunk_rows(int64_t n, int64_t v) { return std::max<int64_t>(1, std::min<int64_t>(n, (int64_t(1) << 22) / v)); }
}  // namespace

template <typename T>
void head_forward(const T* hidden, const T* w, const HeadArgs& a, T* token_logp, T* step_sum, T* lse) {
  const int64_t cr = chunk_rows(a.n, a.v);
  std::vector<T> z(size_t(cr * a.v));
  for (int64_t r0 = 0; r0 < a.n; r0 += cr) {
    const int64_t rows = std::min(cr, a.n - r0);
    gemm<T>(false, true, rows, a.v, a.d, T(1), hidden + r0 * a.d, a.d, w, a.d, T(0), z.data(), a.v);
    parallel_for(rows, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = r0 + i;
        const T* zr = z.data() + i * a.v;
        if (a.targets[t] < 0) {
          token_logp[t] = 0;
          lse[t] = 0;
          continue;
        }
        const T m = *std::max_element(zr, zr + a.v);
        double s = 0;
        for (int64_t j = 0; j < a.v; ++j) s += std::exp(double(zr[j] - m));
        lse[t] = T(double(m) + std::log(s));
        token_logp[t] = zr[a.targets[t]] - lse[t];
      }
    });
  }
  if (step_sum) {
    std::vector<double> acc(size_t(a.num_steps), 0.0);  // double accumulation: long steps stay exact in fp32
    for (int64_t t = 0; t < a.n; ++t)
      if (a.step_index && a.step_index[t] >= 0 && a.targets[t] >= 0) acc[size_t(a.step_index[t])] += token_logp[t];
    for (int64_t s = 0; s < a.num_steps; ++s) step_sum[s] = T(acc[size_t(s)]);
  }
}

// d logp_t / d z_tj = onehot_j - softmax_j, scaled by g_t = grad_token[t] + grad_step[step[t]].
template <typename T>
void head_backward(const T* hidden, const T* w, const HeadArgs& a, const T* lse, const T* grad_token,
                   const T* grad_step, T* dhidden, T* dw) {
  const int64_t cr = chunk_rows(a.n, a.v);
  std::vector<T> z(size_t(cr * a.v));
  for (int64_t r0 = 0; r0 < a.n; r0 += cr) {
    const int64_t rows = std::min(cr, a.n - r0);
    gemm<T>(false, true, rows, a.v, a.d, T(1), hidden + r0 * a.d, a.d, w, a.d, T(0), z.data(), a.v);
    parallel_for(rows, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = r0 + i;
        T* zr = z.data() + i * a.v;
        T g = 0;
        if (a.targets[t] >= 0) {
          if (grad_token) g += grad_token[t];
          if (grad_step && a.step_index && a.step_index[t] >= 0) g += grad_step[a.step_index[t]];
        }
        if (g == T(0)) {
          std::fill(zr, zr + a.v, T(0));
          continue;
        }
        for (int64_t j = 0; j < a.v; ++j) zr[j] = -g * std::exp(zr[j] - lse[t]);
        zr[a.targets[t]] += g;
      }
    });
    gemm<T>(false, false, rows, a.d, a.v, T(1), z.data(), a.v, w, a.d, T(0), dhidden + r0 * a.d, a.d);
    gemm<T>(true, false, a.v, a.d, rows, T(1), z.data(), a.v, hidden + r0 * a.d, a.d, T(1), dw, a.d);
  }
}

// float: the kernel. Its outputs are fp32, which is T here, so they are written in place.
template <>
void head_forward<float>(const float* hidden, const float* w, const HeadArgs& a, float* token_logp, float* step_sum,
                         float* lse) {
  StepLogprobHiddenForward k;
  k.hidden = hidden, k.weight = w, k.dtype = DType::F32, k.n = a.n, k.d = a.d, k.v = a.v;
  k.targets = a.targets, k.step_index = a.step_index, k.num_steps = a.num_steps;
  k.token_logp = token_logp, k.step_sum = step_sum, k.lse = lse;
  step_logprob_hidden_forward(k);
}

template <>
void head_backward<float>(const float* hidden, const float* w, const HeadArgs& a, const float* lse,
                          const float* grad_token, const float* grad_step, float* dhidden, float* dw) {
  StepLogprobHiddenBackward k;
  k.hidden = hidden, k.weight = w, k.dtype = DType::F32, k.n = a.n, k.d = a.d, k.v = a.v;
  k.targets = a.targets, k.step_index = a.step_index, k.num_steps = a.num_steps;
  k.lse = lse, k.grad_token = grad_token, k.grad_step = grad_step;
  k.dhidden = dhidden, k.dweight = dw, k.accumulate_dweight = true;
  step_logprob_hidden_backward(k);
}

template void head_forward<double>(const double*, const double*, const HeadArgs&, double*, double*, double*);
template void head_backward<double>(const double*, const double*, const HeadArgs&, const double*, const double*,
                                    const double*, double*, double*);

}  // namespace stepwise::model
