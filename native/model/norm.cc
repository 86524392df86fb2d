// RMSNorm forward/backward. Sums are accumulated in double whatever T is, so fp32 stays close to fp64.
#include <cmath>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

template <typename T>
void rmsnorm_forward(T* y, T* rstd, const T* x, const T* w, int64_t n, int64_t d, double eps) {
  parallel_for(n, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      double ss = 0;
      for (int64_t i = 0; i < d; ++i) ss += double(xr[i]) * double(xr[i]);
      const T rs = T(1.0 / std::sqrt(ss / double(d) + eps));
      rstd[r] = rs;
      T* yr = y + r * d;
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * rs * w[i];
    }
  });
}

// With g = dy * w:  dx = rstd * g - x * rstd^3 * sum(g * x) / d;  dw = sum over rows of dy * x * rstd.
template <typename T>
void rmsnorm_backward(T* dx, T* dw, const T* dy, const T* x, const T* w, const T* rstd, int64_t n, int64_t d,
                      bool accumulate_dx) {
  parallel_for(n, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      const T* dyr = dy + r * d;
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += double(dyr[i]) * double(w[i]) * double(xr[i]);
      const double rs = rstd[r];
      const T c = T(rs * rs * rs * dot / double(d));
      T* dxr = dx + r * d;
      for (int64_t i = 0; i < d; ++i) {
        const T v = T(rs) * dyr[i] * w[i] - xr[i] * c;
        dxr[i] = accumulate_dx ? dxr[i] + v : v;
      }
    }
  });
  // Columns are owned by one thread each: no race on dw.
  parallel_for(d, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = i0; i < i1; ++i) dw[i] += dy[r * d + i] * x[r * d + i] * rstd[r];
  });
}

template void rmsnorm_forward<float>(float*, float*, const float*, const float*, int64_t, int64_t, double);
template void rmsnorm_forward<double>(double*, double*, const double*, const double*, int64_t, int64_t, double);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*, const float*, int64_t,
                                      int64_t, bool);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*, const double*, const double*,
                                       int64_t, int64_t, bool);

}  // namespace stepwise::model
