// Rotary position embeddings (HF Llama convention: rotate_half pairs element i with i + hd/2).
#include <cmath>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

template <typename T>
void rope_tables(T* cos_t, T* sin_t, int64_t max_pos, int64_t hd, double theta) {
  const int64_t half = hd / 2;
  for (int64_t p = 0; p < max_pos; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double inv_freq = std::pow(theta, -double(2 * i) / double(hd));
      const double a = double(p) * inv_freq;
      cos_t[p * half + i] = T(std::cos(a));
      sin_t[p * half + i] = T(std::sin(a));
    }
}

template <typename T>
void rope_apply(T* x, int64_t n, int64_t heads, int64_t hd, const int32_t* pos, const T* cos_t, const T* sin_t,
                bool inverse) {
  const int64_t half = hd / 2;
  parallel_for(n, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* c = cos_t + int64_t(pos[r]) * half;
      const T* s = sin_t + int64_t(pos[r]) * half;
      for (int64_t h = 0; h < heads; ++h) {
        T* v = x + (r * heads + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          const T a = v[i], b = v[i + half];
          const T sn = inverse ? -s[i] : s[i];
          v[i] = a * c[i] - b * sn;
          v[i + half] = b * c[i] + a * sn;
        }
      }
    }
  });
}

template void rope_tables<float>(float*, float*, int64_t, int64_t, double);
template void rope_tables<double>(double*, double*, int64_t, int64_t, double);
template void rope_apply<float>(float*, int64_t, int64_t, int64_t, const int32_t*, const float*, const float*, bool);
template void rope_apply<double>(double*, int64_t, int64_t, int64_t, const int32_t*, const double*, const double*,
                                 bool);

}  // namespace stepwise::model
