// Attention over the paged KV cache. Walks each sequence's block table block by block (no division per
// position), computes the scores of all query heads that share a kv head in one pass over K, then one pass
// over V, and normalises once at the end.
#include "cached_attention.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cached_attention_avx2.h"
#include "common/cpu_features.h"
#include "common/parallel.h"

namespace stepwise::model {

template <typename T>
void cached_attention(T* att, const T* q, int64_t n, const int32_t* pos, const int32_t* const* tables,
                      const KVPool<T>& pool, AttnShape s) {
  const int64_t H = s.heads, G = s.heads / s.kv_heads, hd = s.hd, Qd = H * hd, bs = pool.block_size;
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t scratch = G * (pool.max_positions + 1);  // scores [G, len] + one denominator per head
  bool avx2 = false;  // float with a head dim the AVX2 item takes (cached_attention_avx2.h)
  if constexpr (std::is_same_v<T, float>) avx2 = hd % 8 == 0 && hd <= kAttnAvx2MaxHeadDim && cpu_has_avx2_fma();
  // Small work items are cheap to hand out; a long prefill has many rows, so ranges stay large anyway.
  parallel_for(n * s.kv_heads, 2, [&](int64_t i0, int64_t i1) {
    // Sized for the longest sequence the model allows: a warm decode loop allocates nothing here.
    thread_local std::vector<T> scores;
    if (int64_t(scores.size()) < scratch) scores.resize(size_t(scratch));
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r = item / s.kv_heads, kvh = item % s.kv_heads, len = int64_t(pos[r]) + 1;
      const int32_t* table = tables[r];
      const T* qg = q + r * Qd + kvh * G * hd;  // the G query heads of this kv head are adjacent
      T* sc = scores.data();
      if constexpr (std::is_same_v<T, float>) {
        if (avx2) {
          cached_attention_item_avx2(att + r * Qd + kvh * G * hd, qg, G, hd, scale, len, table, pool.k + kvh * hd,
                                     pool.v + kvh * hd, pool.block_stride, bs, pool.row_stride, sc);
          continue;
        }
      }
      for (int64_t j0 = 0, bi = 0; j0 < len; j0 += bs, ++bi) {
        const T* kb = pool.k + int64_t(table[bi]) * pool.block_stride + kvh * hd;
        const int64_t cnt = std::min(bs, len - j0);
        for (int64_t t = 0; t < cnt; ++t)
          for (int64_t g = 0; g < G; ++g) sc[g * len + j0 + t] = dot8(qg + g * hd, kb + t * pool.row_stride, hd) * scale;
      }
      T* inv = sc + G * len;  // 1 / softmax denominator per query head of the group
      for (int64_t g = 0; g < G; ++g) {
        T* sg = sc + g * len;
        const T m = *std::max_element(sg, sg + len);
        T sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += (sg[j] = std::exp(sg[j] - m));
        inv[g] = T(1) / sum;
      }
      T* out = att + r * Qd + kvh * G * hd;  // the group's G output heads are adjacent too
      std::fill(out, out + G * hd, T(0));
      for (int64_t j0 = 0, bi = 0; j0 < len; j0 += bs, ++bi) {
        const T* vb = pool.v + int64_t(table[bi]) * pool.block_stride + kvh * hd;
        const int64_t cnt = std::min(bs, len - j0);
        for (int64_t t = 0; t < cnt; ++t)
          for (int64_t g = 0; g < G; ++g) axpy(out + g * hd, sc[g * len + j0 + t], vb + t * pool.row_stride, hd);
      }
      for (int64_t g = 0; g < G; ++g)
        for (int64_t d = 0; d < hd; ++d) out[g * hd + d] *= inv[g];
    }
  });
}

template void cached_attention<float>(float*, const float*, int64_t, const int32_t*, const int32_t* const*,
                                      const KVPool<float>&, AttnShape);
template void cached_attention<double>(double*, const double*, int64_t, const int32_t*, const int32_t* const*,
                                       const KVPool<double>&, AttnShape);

}  // namespace stepwise::model
