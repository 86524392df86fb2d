// SwiGLU activation of the MLP (gate/up/down projections are linear layers, see linear.cc).
#include <cmath>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

template <typename T>
void swiglu_forward(T* h, const T* g, const T* u, int64_t count) {
  parallel_for(count, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T sig = T(1) / (T(1) + std::exp(-g[i]));
      h[i] = g[i] * sig * u[i];
    }
  });
}

// d silu(g)/dg = sig * (1 + g * (1 - sig)).
template <typename T>
void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, int64_t count) {
  parallel_for(count, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T sig = T(1) / (T(1) + std::exp(-g[i]));
      const T silu = g[i] * sig;
      du[i] = dh[i] * silu;
      dg[i] = dh[i] * u[i] * sig * (T(1) + g[i] * (T(1) - sig));
    }
  });
}

template void swiglu_forward<float>(float*, const float*, const float*, int64_t);
template void swiglu_forward<double>(double*, const double*, const double*, int64_t);
template void swiglu_backward<float>(float*, float*, const float*, const float*, const float*, int64_t);
template void swiglu_backward<double>(double*, double*, const double*, const double*, const double*, int64_t);

}  // namespace stepwise::model
