// AVX2+FMA attention of one decode row over the paged KV cache. Compiled with -mavx2 -mfma (CMake gives
// *_avx2.cc those flags) and called only after cpu_has_avx2_fma().
//
// Why: at the embedded model's head dim 32 the portable loop spends most of a decode step here (perf, 256 rows:
// 38% in cached_attention and 3% in expf against 17% in the GEMMs): one short dot and one scalar exp per cached
// position. Here q stays in registers, four K rows are dotted at once and reduced together (one hadd tree per
// four scores), the exps run eight wide, and the output accumulates in registers over all V rows.
#include "cached_attention_avx2.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "common/simd_avx2.h"

namespace stepwise::model {
namespace {

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The four full sums of a0..a3, in order.
inline __m128 sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

inline __m256i tail_mask(int64_t rem) {  // lanes [0, rem) set, rem in [0, 8]
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int NV>
void item(float* out, const float* qg, int64_t G, float scale, int64_t len, const int32_t* table, const float* k,
          const float* v, int64_t bstride, int64_t bs, int64_t rstride, float* scores) {
  constexpr int64_t hd = 8 * NV;
  for (int64_t g = 0; g < G; ++g) {
    __m256 q[NV];
    for (int i = 0; i < NV; ++i) q[i] = _mm256_mul_ps(_mm256_loadu_ps(qg + g * hd + 8 * i), _mm256_set1_ps(scale));
    float* sg = scores + g * len;
    // Scores, block by block (a block's rows are contiguous, row_stride apart).
    for (int64_t j0 = 0, bi = 0; j0 < len; j0 += bs, ++bi) {
      const float* kb = k + int64_t(table[bi]) * bstride;
      const int64_t cnt = len - j0 < bs ? len - j0 : bs;
      int64_t t = 0;
      for (; t + 4 <= cnt; t += 4) {
        const float* r = kb + t * rstride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < NV; ++i) {
          a0 = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(r + 8 * i), a0);
          a1 = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(r + rstride + 8 * i), a1);
          a2 = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(r + 2 * rstride + 8 * i), a2);
          a3 = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(r + 3 * rstride + 8 * i), a3);
        }
        _mm_storeu_ps(sg + j0 + t, sum4(a0, a1, a2, a3));
      }
      for (; t < cnt; ++t) {
        __m256 a = _mm256_setzero_ps();
        for (int i = 0; i < NV; ++i) a = _mm256_fmadd_ps(q[i], _mm256_loadu_ps(kb + t * rstride + 8 * i), a);
        sg[j0 + t] = simd::hsum8(a);
      }
    }
    // Softmax numerators in place, eight at a time; the tail is masked (exp of a masked lane is zeroed).
    __m256 mv = _mm256_set1_ps(-__builtin_inff());
    int64_t j = 0;
    for (; j + 8 <= len; j += 8) mv = _mm256_max_ps(_mm256_loadu_ps(sg + j), mv);
    float m = hmax(mv);
    for (; j < len; ++j) m = sg[j] > m ? sg[j] : m;
    const __m256 mb = _mm256_set1_ps(m);
    __m256 sum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= len; j += 8) {
      const __m256 e = simd::exp256(_mm256_sub_ps(_mm256_loadu_ps(sg + j), mb));
      _mm256_storeu_ps(sg + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    if (j < len) {
      const __m256i mask = tail_mask(len - j);
      const __m256 e = _mm256_and_ps(simd::exp256(_mm256_sub_ps(_mm256_maskload_ps(sg + j, mask), mb)), _mm256_castsi256_ps(mask));
      _mm256_maskstore_ps(sg + j, mask, e);
      sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / simd::hsum8(sum));
    // Output: sum over positions of p_j V_j, in registers.
    __m256 acc[NV];
    for (int i = 0; i < NV; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t j0 = 0, bi = 0; j0 < len; j0 += bs, ++bi) {
      const float* vb = v + int64_t(table[bi]) * bstride;
      const int64_t cnt = len - j0 < bs ? len - j0 : bs;
      for (int64_t t = 0; t < cnt; ++t) {
        const __m256 p = _mm256_set1_ps(sg[j0 + t]);
        for (int i = 0; i < NV; ++i) acc[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vb + t * rstride + 8 * i), acc[i]);
      }
    }
    for (int i = 0; i < NV; ++i) _mm256_storeu_ps(out + g * hd + 8 * i, _mm256_mul_ps(acc[i], inv));
  }
}

using ItemFn = void (*)(float*, const float*, int64_t, float, int64_t, const int32_t*, const float*, const float*,
                        int64_t, int64_t, int64_t, float*);
constexpr ItemFn kItems[16] = {item<1>, item<2>,  item<3>,  item<4>,  item<5>,  item<6>,  item<7>,  item<8>,
                               item<9>, item<10>, item<11>, item<12>, item<13>, item<14>, item<15>, item<16>};
static_assert(16 * 8 == kAttnAvx2MaxHeadDim, "one item instantiation per multiple of 8");

}  // namespace

void cached_attention_item_avx2(float* out, const float* qg, int64_t G, int64_t hd, float scale, int64_t len,
                                const int32_t* table, const float* k, const float* v, int64_t block_stride,
                                int64_t block_size, int64_t row_stride, float* scores) {
  kItems[hd / 8 - 1](out, qg, G, scale, len, table, k, v, block_stride, block_size, row_stride, scores);
}

}  // namespace stepwise::model
#endif
