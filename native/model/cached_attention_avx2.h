// The AVX2+FMA path of cached_attention<float> (cached_attention_avx2.cc), one (row, kv head) item at a time.
// Kept out of cached_attention.h so the AVX2 file includes no header with inline code (see common/simd_avx2.h).
#pragma once
#include <cstdint>

namespace stepwise::model {

// Head dims the AVX2 path takes: multiples of 8 up to this (q of one head lives in hd / 8 registers).
constexpr int64_t kAttnAvx2MaxHeadDim = 128;

// out[g*hd ..] = softmax(q_g . K[0..len) * scale) V[0..len) for the G query heads g of one kv head, whose q rows
// are adjacent at qg. k and v point at this kv head's first element in block 0 of the pool; block table[b]
// starts block_stride further on per block, its rows row_stride apart. scores holds G * len floats of scratch.
// Call only when cpu_has_avx2_fma() and hd % 8 == 0, hd <= kAttnAvx2MaxHeadDim.
void cached_attention_item_avx2(float* out, const float* qg, int64_t G, int64_t hd, float scale, int64_t len,
                                const int32_t* table, const float* k, const float* v, int64_t block_stride,
                                int64_t block_size, int64_t row_stride, float* scores);

}  // namespace stepwise::model
