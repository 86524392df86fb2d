// Causal grouped-query attention over packed sequences (training path), on GEMMs.
//
// For each (sequence, query head) and each chunk of up to kChunk query rows: S = scale * Q K^T over the keys up to
// the chunk's last row (sgemm), a causal row softmax, O = P V (sgemm). The forward saves only the per-(token, head)
// log-sum-exp; the backward recomputes P from Q, K and lse, so memory is O(chunk x seq) scratch instead of a saved
// n x n matrix per head (the FlashAttention recompute, at chunk rather than tile granularity). The loops over
// (sequence, head, chunk) are serial and the GEMMs and row passes inside are threaded: calling OpenBLAS from
// several pool threads at once would oversubscribe the cores.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

namespace {

constexpr int64_t kChunk = 128;  // query rows per GEMM: scratch is kChunk x (longest sequence) per buffer

int64_t max_len(const int64_t* offsets, int64_t nseq) {
  int64_t m = 0;
  for (int64_t s = 0; s < nseq; ++s) m = std::max(m, offsets[s + 1] - offsets[s]);
  return m;
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const int64_t* offsets, int64_t nseq,
                       AttnShape sh) {
  const int64_t H = sh.heads, hd = sh.hd, group = sh.heads / sh.kv_heads;
  const int64_t qs = H * hd, ks = sh.kv_heads * hd;
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t L = max_len(offsets, nseq), bq = std::min(kChunk, std::max<int64_t>(L, 1));
  std::vector<T> S(size_t(bq * std::max<int64_t>(L, 1)));
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = offsets[s], n = offsets[s + 1] - a;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / group;
      const T* K = k + a * ks + kvh * hd;
      const T* V = v + a * ks + kvh * hd;
      for (int64_t i0 = 0; i0 < n; i0 += bq) {
        const int64_t rows = std::min(bq, n - i0), cols = i0 + rows;  // keys [0, cols) cover every row's past
        gemm<T>(false, true, rows, cols, hd, scale, q + (a + i0) * qs + h * hd, qs, K, ks, T(0), S.data(), cols);
        parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            T* sr = S.data() + r * cols;
            const int64_t last = i0 + r;  // causal: keys [0, last]
            const T m = *std::max_element(sr, sr + last + 1);
            T sum = 0;
            for (int64_t j = 0; j <= last; ++j) sum += (sr[j] = std::exp(sr[j] - m));
            const T inv = T(1) / sum;
            for (int64_t j = 0; j <= last; ++j) sr[j] *= inv;
            std::fill(sr + last + 1, sr + cols, T(0));
            lse[(a + last) * H + h] = m + std::log(sum);
          }
        });
        gemm<T>(false, false, rows, hd, cols, T(1), S.data(), cols, V, ks, T(0), out + (a + i0) * qs + h * hd, qs);
      }
    }
  }
}

// With P = softmax rows, dP = dO V^T, D_i = dO_i . O_i:  dS = P * (dP - D) * scale,
// dQ = dS K,  dK += dS^T Q,  dV += P^T dO  (dK / dV accumulate over the query heads of a kv group).
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q, const T* k,
                        const T* v, const int64_t* offsets, int64_t nseq, AttnShape sh) {
  const int64_t H = sh.heads, Hkv = sh.kv_heads, hd = sh.hd, group = H / Hkv;
  const int64_t qs = H * hd, ks = Hkv * hd, ntok = offsets[nseq];
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t L = max_len(offsets, nseq), bq = std::min(kChunk, std::max<int64_t>(L, 1));
  std::vector<T> P(size_t(bq * std::max<int64_t>(L, 1))), dP(P.size());
  std::fill(dk, dk + ntok * ks, T(0));
  std::fill(dv, dv + ntok * ks, T(0));
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = offsets[s], n = offsets[s + 1] - a;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / group;
      const T* K = k + a * ks + kvh * hd;
      const T* V = v + a * ks + kvh * hd;
      for (int64_t i0 = 0; i0 < n; i0 += bq) {
        const int64_t rows = std::min(bq, n - i0), cols = i0 + rows;
        const T* Qc = q + (a + i0) * qs + h * hd;
        const T* dOc = dout + (a + i0) * qs + h * hd;
        gemm<T>(false, true, rows, cols, hd, scale, Qc, qs, K, ks, T(0), P.data(), cols);
        gemm<T>(false, true, rows, cols, hd, T(1), dOc, qs, V, ks, T(0), dP.data(), cols);
        parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t last = i0 + r, t = a + last;
            T* pr = P.data() + r * cols;
            T* dpr = dP.data() + r * cols;
            const T l = lse[t * H + h];
            const T di = dot8(dOc + r * qs, out + t * qs + h * hd, hd);
            for (int64_t j = 0; j <= last; ++j) {
              pr[j] = std::exp(pr[j] - l);
              dpr[j] = pr[j] * (dpr[j] - di) * scale;
            }
            std::fill(pr + last + 1, pr + cols, T(0));
            std::fill(dpr + last + 1, dpr + cols, T(0));
          }
        });
        gemm<T>(false, false, rows, hd, cols, T(1), dP.data(), cols, K, ks, T(0), dq + (a + i0) * qs + h * hd, qs);
        gemm<T>(true, false, cols, hd, rows, T(1), dP.data(), cols, Qc, qs, T(1), dk + a * ks + kvh * hd, ks);
        gemm<T>(true, false, cols, hd, rows, T(1), P.data(), cols, dOc, qs, T(1), dv + a * ks + kvh * hd, ks);
      }
    }
  }
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
