// Paged KV cache for generation with forkable prefixes.
//
// K/V live in fixed-size blocks (block_size tokens x all layers) drawn from one pool sized by a token budget.
// A sequence is a block table + its tokens. fork() copies the block table and bumps reference counts, so C
// children share the prefix's blocks without recomputing or copying them; the first write into a shared,
// partially filled last block copies that block (copy-on-write), full shared blocks are never copied.
//
// Eviction / recompute policy: when the pool has no free block, the least recently used sequence that is not
// part of the current call loses its blocks (its tokens are kept); the next call that uses it recomputes its
// K/V from the tokens. A call whose own sequences do not fit in the budget fails with ERR_CACHE_BUDGET.
//
// A sequence's last token is "pending": prefill computes tokens[0 .. len-2] and advance() computes the rest and
// returns the logits of the last token, from which the next token is sampled. So forks of a prefix share
// everything computed and each child computes only its own tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "model.h"

namespace stepwise::model {

struct SampleOptions {
  int64_t max_new_tokens = 16;
  double temperature = 1.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  uint64_t seed = 0;         // sequence i of a call samples from splitmix64(seed, i)
  // Per-sequence streams (both empty, or one entry per sequence): sequence i samples from
  // splitmix64(stream_seed[i], stream_index[i]), the stream it would get as sequence stream_index[i] of a call
  // with seed stream_seed[i]. Lets a caller merge several calls into one batch without changing their draws.
  std::vector<uint64_t> stream_seed;
  std::vector<int64_t> stream_index;
  std::vector<int32_t> stop_token_ids;
};

struct Generated {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;  // log softmax of the raw (untempered) logits at the sampled token
  int32_t finish = 0;           // 0 = max_new_tokens, 1 = stop token (included in tokens), 2 = max_seq_len
};

struct CacheStats {
  int64_t num_blocks, free_blocks, block_size, sequences, evictions, recomputed_tokens, computed_tokens, cow_copies;
};

template <typename T>
class KVCache {
 public:
  KVCache(Model<T>& m, int64_t budget_tokens, int64_t block_size);

  int64_t create(const int32_t* tokens, int64_t n);  // nothing computed yet
  std::vector<int64_t> fork(int64_t id, int64_t count);
  void release(int64_t id);
  void append(int64_t id, const int32_t* tokens, int64_t n);  // more known tokens (e.g. a prompt continuation)
  const std::vector<int32_t>& tokens(int64_t id) const { return get(id).tokens; }
  // Computes K/V for every sequence's tokens up to len-1 (prefill) and stores nothing else.
  void prefill(const std::vector<int64_t>& ids);
  // Computes through the last token of each sequence; logits [ids.size(), V] of those last tokens.
  void advance(const std::vector<int64_t>& ids, T* logits);
  std::vector<Generated> generate(const std::vector<int64_t>& ids, const SampleOptions& o);
  CacheStats stats() const;

 private:
  struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> blocks;
    int64_t cached = 0;  // tokens whose K/V are in the blocks
    uint64_t last_used = 0;
    int64_t lost = 0;  // tokens of K/V dropped by eviction, recomputed on next use
  };
  Seq& get(int64_t id);
  const Seq& get(int64_t id) const;
  int32_t alloc_block(const std::vector<int64_t>& in_call);
  void drop_blocks(Seq& s);
  void reserve(Seq& s, int64_t upto, const std::vector<int64_t>& in_call);
  void compute(const std::vector<int64_t>& ids, const std::vector<int64_t>& upto, T* logits);
  T* kslot(int32_t block, int64_t layer) { return k_.get() + (int64_t(block) * L_ + layer) * bs_ * kvd_; }
  T* vslot(int32_t block, int64_t layer) { return v_.get() + (int64_t(block) * L_ + layer) * bs_ * kvd_; }

  Model<T>& m_;
  int64_t bs_, L_, kvd_, num_blocks_;
  // Not value-initialised on purpose: the OS maps pages as blocks are first written, so the budget is a cap and
  // an unused budget costs address space, not memory.
  std::unique_ptr<T[]> k_, v_;
  std::vector<int32_t> refcount_, free_;
  std::unordered_map<int64_t, Seq> seqs_;
  int64_t next_id_ = 1;
  uint64_t clock_ = 0;
  int64_t evictions_ = 0, recomputed_ = 0, computed_ = 0, cow_ = 0;
  // Work buffers of compute(), grown only (no allocation per token or per decode step once warm).
  std::vector<T> x_, xn_, q_, kk_, vv_, att_, gate_, up_, hb_, rstd_, last_, logits_;
  std::vector<int32_t> sample_idx_;
  std::vector<double> sample_p_;
  std::vector<int32_t> pos_, rows_seq_;
  std::vector<const int32_t*> row_tables_;
  // Per-call bookkeeping of prefill/advance/compute, kept so a decode step does not allocate.
  std::vector<int64_t> upto_, last_row_;
  std::vector<Seq*> call_seqs_;  // block table of each computed row's sequence
};

}  // namespace stepwise::model
