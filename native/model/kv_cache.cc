// Block management (fork, copy-on-write, eviction) and the cached forward over new tokens.
#include "kv_cache.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "cached_attention.h"
#include "common/parallel.h"

namespace stepwise::model {

template <typename T>
KVCache<T>::KVCache(Model<T>& m, int64_t budget_tokens, int64_t block_size)
    : m_(m), bs_(block_size), L_(m.cfg.num_layers), kvd_(m.cfg.kv_dim()) {
  if (block_size < 1 || block_size > 4096) throw ConfigError("cache.blockSize: expected an integer in [1, 4096]");
  if (budget_tokens < block_size) throw ConfigError("cache.budgetTokens: expected at least blockSize tokens");
  num_blocks_ = (budget_tokens + bs_ - 1) / bs_;
  if (num_blocks_ > (int64_t(1) << 30)) throw ConfigError("cache.budgetTokens: too large");
  const size_t elems = size_t(num_blocks_ * L_ * bs_ * kvd_);
  k_.reset(new T[elems]);
  v_.reset(new T[elems]);
  refcount_.assign(size_t(num_blocks_), 0);
  for (int64_t b = num_blocks_ - 1; b >= 0; --b) free_.push_back(int32_t(b));
}

template <typename T>
typename KVCache<T>::Seq& KVCache<T>::get(int64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw InputError("sequence " + std::to_string(id) + ": expected a live sequence of this cache");
  return it->second;
}
template <typename T>
const typename KVCache<T>::Seq& KVCache<T>::get(int64_t id) const {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw InputError("sequence " + std::to_string(id) + ": expected a live sequence of this cache");
  return it->second;
}

template <typename T>
int64_t KVCache<T>::create(const int32_t* tokens, int64_t n) {
  const int64_t id = next_id_++;
  Seq s;
  seqs_[id] = s;
  try {
    append(id, tokens, n);
  } catch (...) {
    seqs_.erase(id);
    throw;
  }
  if (n < 1) {
    seqs_.erase(id);
    throw InputError("tokens: expected at least one token");
  }
  return id;
}

template <typename T>
void KVCache<T>::append(int64_t id, const int32_t* tokens, int64_t n) {
  Seq& s = get(id);
  const int64_t V = m_.cfg.vocab_size;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw InputError("tokens[" + std::to_string(i) + "]: expected an id in [0, " + std::to_string(V) + "), got " +
                       std::to_string(tokens[i]));
  if (int64_t(s.tokens.size()) + n > m_.cfg.max_seq_len)
    throw InputError("sequence " + std::to_string(id) + ": length " + std::to_string(s.tokens.size() + n) +
                         " exceeds maxSeqLen " + std::to_string(m_.cfg.max_seq_len),
                     "ERR_SEQ_TOO_LONG");
  s.tokens.insert(s.tokens.end(), tokens, tokens + n);
  s.last_used = ++clock_;
}

template <typename T>
std::vector<int64_t> KVCache<T>::fork(int64_t id, int64_t count) {
  if (count < 0) throw InputError("count: expected a non-negative integer");
  const Seq src = get(id);  // copy: the map may rehash while children are inserted
  std::vector<int64_t> out;
  for (int64_t c = 0; c < count; ++c) {
    for (int32_t b : src.blocks) ++refcount_[size_t(b)];
    const int64_t cid = next_id_++;
    seqs_[cid] = src;
    seqs_[cid].last_used = ++clock_;
    out.push_back(cid);
  }
  return out;
}

template <typename T>
void KVCache<T>::drop_blocks(Seq& s) {
  for (int32_t b : s.blocks)
    if (--refcount_[size_t(b)] == 0) free_.push_back(b);
  s.blocks.clear();
  s.cached = 0;
}

template <typename T>
void KVCache<T>::release(int64_t id) {
  drop_blocks(get(id));
  seqs_.erase(id);
}

template <typename T>
int32_t KVCache<T>::alloc_block(const std::vector<int64_t>& in_call) {
  while (free_.empty()) {
    Seq* victim = nullptr;
    for (auto& [sid, s] : seqs_) {
      if (s.blocks.empty() || std::find(in_call.begin(), in_call.end(), sid) != in_call.end()) continue;
      if (!victim || s.last_used < victim->last_used) victim = &s;
    }
    if (!victim)
      throw InputError("cache: the sequences of this call need more than budgetTokens = " +
                           std::to_string(num_blocks_ * bs_) + " tokens of K/V",
                       "ERR_CACHE_BUDGET");
    victim->lost = victim->cached;
    drop_blocks(*victim);
    ++evictions_;
  }
  const int32_t b = free_.back();
  free_.pop_back();
  refcount_[size_t(b)] = 1;
  return b;
}

// Makes positions [s.cached, upto) writable: the block holding position s.cached is copied if shared
// (copy-on-write), then fresh blocks are appended.
template <typename T>
void KVCache<T>::reserve(Seq& s, int64_t upto, const std::vector<int64_t>& in_call) {
  const int64_t first = s.cached / bs_;
  if (s.cached < upto && first < int64_t(s.blocks.size()) && refcount_[size_t(s.blocks[size_t(first)])] > 1) {
    const int32_t old = s.blocks[size_t(first)];
    const int32_t nb = alloc_block(in_call);
    for (int64_t l = 0; l < L_; ++l) {
      std::copy_n(kslot(old, l), (s.cached % bs_) * kvd_, kslot(nb, l));
      std::copy_n(vslot(old, l), (s.cached % bs_) * kvd_, vslot(nb, l));
    }
    --refcount_[size_t(old)];
    s.blocks[size_t(first)] = nb;
    ++cow_;
  }
  while (int64_t(s.blocks.size()) * bs_ < upto) s.blocks.push_back(alloc_block(in_call));
}

template <typename T>
void KVCache<T>::prefill(const std::vector<int64_t>& ids) {
  upto_.clear();
  for (int64_t id : ids) upto_.push_back(int64_t(get(id).tokens.size()) - 1);
  compute(ids, upto_, nullptr);
}

template <typename T>
void KVCache<T>::advance(const std::vector<int64_t>& ids, T* logits) {
  upto_.clear();
  for (int64_t id : ids) {
    Seq& s = get(id);
    // The last token must be computed here to get its logits, even if an earlier advance already did.
    s.cached = std::min<int64_t>(s.cached, int64_t(s.tokens.size()) - 1);
    upto_.push_back(int64_t(s.tokens.size()));
  }
  compute(ids, upto_, logits);
}

template <typename T>
void KVCache<T>::compute(const std::vector<int64_t>& ids, const std::vector<int64_t>& upto, T* logits) {
  const ModelConfig& c = m_.cfg;
  const int64_t D = c.hidden_size, F = c.intermediate_size, Q = c.q_dim(), KV = kvd_, H = c.num_heads,
                hd = c.hd(), B = int64_t(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (ids[i] == ids[j]) throw InputError("sequences: expected distinct ids, " + std::to_string(ids[i]) + " repeats");
  std::vector<Seq*>& seqs = call_seqs_;
  seqs.clear();
  int64_t n = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    Seq& s = get(ids[i]);
    s.last_used = ++clock_;
    if (s.lost > 0) {  // evicted earlier: what it had computed is paid again now
      recomputed_ += std::min(s.lost, upto[i]);
      s.lost = 0;
    }
    reserve(s, upto[i], ids);
    seqs.push_back(&s);
    n += std::max<int64_t>(0, upto[i] - s.cached);
  }
  auto grow = [](std::vector<T>& v, int64_t size) {
    if (int64_t(v.size()) < size) v.resize(size_t(size));
  };
  grow(x_, n * D), grow(xn_, n * D), grow(q_, n * Q), grow(kk_, n * KV), grow(vv_, n * KV), grow(att_, n * Q);
  grow(gate_, n * F), grow(up_, n * F), grow(hb_, n * F), grow(rstd_, n), grow(last_, B * D);
  pos_.resize(size_t(n)), rows_seq_.resize(size_t(n)), row_tables_.resize(size_t(n));
  std::vector<int64_t>& last_row = last_row_;
  last_row.assign(size_t(B), -1);
  int64_t r = 0;
  const T* P = m_.params.data();
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t p = seqs[size_t(i)]->cached; p < upto[size_t(i)]; ++p, ++r) {
      pos_[size_t(r)] = int32_t(p), rows_seq_[size_t(r)] = int32_t(i);
      row_tables_[size_t(r)] = seqs[size_t(i)]->blocks.data();
      std::copy_n(P + m_.layout.embed + int64_t(seqs[size_t(i)]->tokens[size_t(p)]) * D, D, x_.data() + r * D);
    }
    last_row[size_t(i)] = r - 1;
  }
  for (int64_t l = 0; l < L_; ++l) {
    const LayerOffsets& o = m_.layout.layers[size_t(l)];
    rmsnorm_forward<T>(xn_.data(), rstd_.data(), x_.data(), P + o.ln1, n, D, c.rms_norm_eps);
    linear_forward<T>(q_.data(), xn_.data(), P + o.wq, o.bq >= 0 ? P + o.bq : nullptr, n, D, Q, false);
    linear_forward<T>(kk_.data(), xn_.data(), P + o.wk, o.bk >= 0 ? P + o.bk : nullptr, n, D, KV, false);
    linear_forward<T>(vv_.data(), xn_.data(), P + o.wv, o.bv >= 0 ? P + o.bv : nullptr, n, D, KV, false);
    rope_apply<T>(q_.data(), n, H, hd, pos_.data(), m_.rope_cos(), m_.rope_sin(), false);
    rope_apply<T>(kk_.data(), n, c.num_kv_heads, hd, pos_.data(), m_.rope_cos(), m_.rope_sin(), false);
    for (int64_t row = 0; row < n; ++row) {
      const Seq& s = *seqs[size_t(rows_seq_[size_t(row)])];
      const int64_t p = pos_[size_t(row)];
      const int32_t blk = s.blocks[size_t(p / bs_)];
      std::copy_n(kk_.data() + row * KV, KV, kslot(blk, l) + (p % bs_) * KV);
      std::copy_n(vv_.data() + row * KV, KV, vslot(blk, l) + (p % bs_) * KV);
    }
    const KVPool<T> pool{kslot(0, l), vslot(0, l), L_ * bs_ * KV, bs_, KV, c.max_seq_len};
    cached_attention<T>(att_.data(), q_.data(), n, pos_.data(), row_tables_.data(), pool, AttnShape{H, c.num_kv_heads, hd});
    linear_forward<T>(x_.data(), att_.data(), P + o.wo, nullptr, n, Q, D, true);
    rmsnorm_forward<T>(xn_.data(), rstd_.data(), x_.data(), P + o.ln2, n, D, c.rms_norm_eps);
    linear_forward<T>(gate_.data(), xn_.data(), P + o.wgate, nullptr, n, D, F, false);
    linear_forward<T>(up_.data(), xn_.data(), P + o.wup, nullptr, n, D, F, false);
    swiglu_forward<T>(hb_.data(), gate_.data(), up_.data(), n * F);
    linear_forward<T>(x_.data(), hb_.data(), P + o.wdown, nullptr, n, F, D, true);
  }
  for (int64_t i = 0; i < B; ++i) {
    Seq& s = *seqs[size_t(i)];
    computed_ += std::max<int64_t>(0, upto[size_t(i)] - s.cached);
    s.cached = std::max(s.cached, upto[size_t(i)]);
  }
  if (!logits) return;
  for (int64_t i = 0; i < B; ++i) {
    if (last_row[size_t(i)] < 0) throw InputError("advance: a sequence had no token to compute");
    std::copy_n(x_.data() + last_row[size_t(i)] * D, D, last_.data() + i * D);
  }
  rmsnorm_forward<T>(last_.data(), rstd_.data(), last_.data(), P + m_.layout.final_norm, B, D, c.rms_norm_eps);
  linear_forward<T>(logits, last_.data(), m_.lm_head(), nullptr, B, D, c.vocab_size, false);
}

template <typename T>
CacheStats KVCache<T>::stats() const {
  return CacheStats{num_blocks_, int64_t(free_.size()), bs_, int64_t(seqs_.size()), evictions_, recomputed_,
                    computed_, cow_};
}

template class KVCache<float>;
template class KVCache<double>;

}  // namespace stepwise::model
