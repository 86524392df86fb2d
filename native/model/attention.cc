// Causal grouped-query attention over packed sequences (training path). The forward saves only the
// per-(token, head) log-sum-exp; the backward recomputes the probabilities from q, k and lse, so memory is
// O(n) per head instead of O(n^2) (the FlashAttention trick, done plainly on the CPU).
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

namespace {

template <typename T>
inline T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

int64_t max_len(const int64_t* offsets, int64_t nseq) {
  int64_t m = 0;
  for (int64_t s = 0; s < nseq; ++s) m = std::max(m, offsets[s + 1] - offsets[s]);
  return m;
}

// Maps a token row to the first row of its sequence: a binary search over offsets.
inline int64_t seq_start(const int64_t* offsets, int64_t nseq, int64_t row) {
  const int64_t s = int64_t(std::upper_bound(offsets, offsets + nseq + 1, row) - offsets) - 1;
  return offsets[s];
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const int64_t* offsets, int64_t nseq,
                       AttnShape sh) {
  const int64_t n = offsets[nseq], H = sh.heads, hd = sh.hd, group = sh.heads / sh.kv_heads;
  const int64_t qs = H * hd, ks = sh.kv_heads * hd;
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t L = max_len(offsets, nseq);
  parallel_for(n * H, 4, [&](int64_t i0, int64_t i1) {
    std::vector<T> p(size_t(std::max<int64_t>(L, 1)));  // one scratch row per thread range, not per token
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r = item / H, h = item % H, kvh = h / group;
      const int64_t a = seq_start(offsets, nseq, r);
      const T* qr = q + r * qs + h * hd;
      T m = -INFINITY;
      for (int64_t j = a; j <= r; ++j) {
        p[j - a] = scale * dot(qr, k + j * ks + kvh * hd, hd);
        m = std::max(m, p[j - a]);
      }
      T sum = 0;
      for (int64_t j = a; j <= r; ++j) sum += (p[j - a] = std::exp(p[j - a] - m));
      T* o = out + r * qs + h * hd;
      std::fill(o, o + hd, T(0));
      const T inv = T(1) / sum;
      for (int64_t j = a; j <= r; ++j) {
        const T w = p[j - a] * inv;
        const T* vr = v + j * ks + kvh * hd;
        for (int64_t i = 0; i < hd; ++i) o[i] += w * vr[i];
      }
      lse[r * H + h] = m + std::log(sum);
    }
  });
}

// Parallel over (sequence, kv head): the item owns dk/dv of its kv head and dq of the query heads in its group,
// so accumulation needs no atomics.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q, const T* k,
                        const T* v, const int64_t* offsets, int64_t nseq, AttnShape sh) {
  const int64_t H = sh.heads, Hkv = sh.kv_heads, hd = sh.hd, group = H / Hkv;
  const int64_t qs = H * hd, ks = Hkv * hd;
  const T scale = T(1.0 / std::sqrt(double(hd)));
  parallel_for(nseq * Hkv, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t s = item / Hkv, kvh = item % Hkv, a = offsets[s], b = offsets[s + 1];
      for (int64_t j = a; j < b; ++j) {
        std::fill(dk + j * ks + kvh * hd, dk + j * ks + (kvh + 1) * hd, T(0));
        std::fill(dv + j * ks + kvh * hd, dv + j * ks + (kvh + 1) * hd, T(0));
      }
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int64_t r = a; r < b; ++r) {
          const T* qr = q + r * qs + h * hd;
          const T* dor = dout + r * qs + h * hd;
          T* dqr = dq + r * qs + h * hd;
          std::fill(dqr, dqr + hd, T(0));
          const T di = dot(dor, out + r * qs + h * hd, hd);  // sum_j p_j dp_j = dO . O
          const T l = lse[r * H + h];
          for (int64_t j = a; j <= r; ++j) {
            const T* kj = k + j * ks + kvh * hd;
            const T* vj = v + j * ks + kvh * hd;
            const T pj = std::exp(scale * dot(qr, kj, hd) - l);
            const T ds = pj * (dot(dor, vj, hd) - di) * scale;
            T* dkj = dk + j * ks + kvh * hd;
            T* dvj = dv + j * ks + kvh * hd;
            for (int64_t i = 0; i < hd; ++i) {
              dqr[i] += ds * kj[i];
              dkj[i] += ds * qr[i];
              dvj[i] += pj * dor[i];
            }
          }
        }
      }
    }
  });
}

template void attention_forward<float>(float*, float*, const float*, const float*, const float*, const int64_t*,
                                       int64_t, AttnShape);
template void attention_forward<double>(double*, double*, const double*, const double*, const double*,
                                        const int64_t*, int64_t, AttnShape);
template void attention_backward<float>(float*, float*, float*, const float*, const float*, const float*,
                                        const float*, const float*, const float*, const int64_t*, int64_t, AttnShape);
template void attention_backward<double>(double*, double*, double*, const double*, const double*, const double*,
                                         const double*, const double*, const double*, const int64_t*, int64_t,
                                         AttnShape);

}  // namespace stepwise::model
