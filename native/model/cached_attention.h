// Attention of new tokens over the paged KV cache (decode and cached prefill), see kv_cache.h.
#pragma once
#include <cstdint>

#include "ops.h"

namespace stepwise::model {

// One layer's K (or V) pool: block b's rows start at base + b * block_stride; row t of a block is `row_stride`
// further on (row_stride = kv_heads * hd).
// max_positions (the model's maxSeqLen) sizes each thread's score scratch once, so decode never reallocates it.
template <typename T>
struct KVPool {
  const T* k;
  const T* v;
  int64_t block_stride, block_size, row_stride, max_positions;
};

// att[r, h*hd ..] = softmax(q_h . K[0..pos[r]] / sqrt(hd)) V[0..pos[r]] of row r's sequence, whose block table is
// tables[r]. The K/V of positions <= pos[r] must already be in the pool (including row r's own).
// Parallel over (row, kv head); the query heads of one kv head are done together so each K/V row is read once
// per group, not once per query head.
template <typename T>
void cached_attention(T* att, const T* q, int64_t n, const int32_t* pos, const int32_t* const* tables,
                      const KVPool<T>& pool, AttnShape s);

}  // namespace stepwise::model
