// Token sampling from one row of logits: greedy, temperature, top-k, top-p (see docs/engine.md), and the
// log-probability of the sampled token under the raw logits. Used by KVCache::generate; exposed for tests.
#pragma once
#include <cstdint>

#include "kv_cache.h"

namespace stepwise::model {

uint64_t splitmix_next(uint64_t& state);

// Scratch for one row: `idx` and `p` hold at least V entries (top-k off) or top_k entries.
struct SampleScratch {
  int32_t* idx;
  double* p;
};

// The sampled token. temperature <= 0: argmax (first on ties). Else softmax(z / T) over the top-k logits (ties
// broken by the lower id), then restricted to the smallest most-probable prefix holding top_p of the mass.
// The candidates are ordered by (logit desc, id asc) before the draw whenever top-k or top-p is set (by id
// otherwise), so a (seed, row) draws the same token on every platform and standard library.
template <typename T>
int32_t sample_row(const T* z, int64_t V, const SampleOptions& o, uint64_t& rng, SampleScratch scratch);

// log softmax(z)[tok], the normaliser summed in double.
template <typename T>
float token_logprob(const T* z, int64_t V, int32_t tok);

}  // namespace stepwise::model
