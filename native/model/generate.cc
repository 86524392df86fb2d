// Batched sampling over the KV cache: greedy, temperature, top-k, top-p; stop token ids and max tokens.
// Stop strings are the TypeScript side's job (it owns the tokenizer).
#include <algorithm>
#include <cmath>

#include "common/parallel.h"
#include "kv_cache.h"
#include "sampling.h"

namespace stepwise::model {


template <typename T>
std::vector<Generated> KVCache<T>::generate(const std::vector<int64_t>& ids, const SampleOptions& o) {
  if (o.max_new_tokens < 0) throw InputError("maxNewTokens: expected a non-negative integer");
  if (!(o.temperature >= 0)) throw InputError("temperature: expected a number >= 0");
  if (o.top_k < 0) throw InputError("topK: expected a non-negative integer");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw InputError("topP: expected a number in (0, 1]");
  const int64_t V = m_.cfg.vocab_size, B = int64_t(ids.size());
  for (int64_t id : ids) get(id);  // existence check before any work
  std::vector<Generated> out(static_cast<size_t>(B));
  std::vector<uint64_t> rng(static_cast<size_t>(B));
  const bool streams = !o.stream_seed.empty();
  if (streams && (int64_t(o.stream_seed.size()) != B || int64_t(o.stream_index.size()) != B))
    throw InputError("streams: expected one { seed, index } per sequence");
  for (int64_t i = 0; i < B; ++i) {
    const uint64_t seed = streams ? o.stream_seed[size_t(i)] : o.seed;
    const int64_t index = streams ? o.stream_index[size_t(i)] : i;
    if (index < 0) throw InputError("streams: expected non-negative indices");
    uint64_t s = seed ^ (0xd1b54a32d192ed03ull * uint64_t(index + 1));
    rng[size_t(i)] = splitmix_next(s);
  }
  std::vector<int64_t> active;
  for (int64_t i = 0; i < B; ++i) {
    if (int64_t(get(ids[size_t(i)]).tokens.size()) >= m_.cfg.max_seq_len) out[size_t(i)].finish = 2;
    else if (o.max_new_tokens > 0) active.push_back(i);
  }
  if (int64_t(logits_.size()) < B * V) logits_.resize(size_t(B * V));
  if (int64_t(sample_idx_.size()) < B * V) sample_idx_.resize(size_t(B * V)), sample_p_.resize(size_t(B * V));
  // Everything a step touches is sized here, so the decode loop itself does not allocate.
  for (int64_t i : active) {
    const int64_t room = m_.cfg.max_seq_len - int64_t(get(ids[size_t(i)]).tokens.size());
    const int64_t most = std::min(o.max_new_tokens, room);
    out[size_t(i)].tokens.reserve(size_t(most)), out[size_t(i)].logprobs.reserve(size_t(most));
    Seq& s = get(ids[size_t(i)]);
    s.tokens.reserve(s.tokens.size() + size_t(most));
    s.blocks.reserve(size_t((int64_t(s.tokens.size()) + most) / bs_ + 1));
  }
  std::vector<int64_t> act_ids, still;
  act_ids.reserve(active.size()), still.reserve(active.size());
  std::vector<int32_t> picked(static_cast<size_t>(B));
  while (!active.empty()) {
    act_ids.clear();
    for (int64_t i : active) act_ids.push_back(ids[size_t(i)]);
    advance(act_ids, logits_.data());
    const int64_t A = int64_t(active.size());
    parallel_for(A, 1, [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t i = active[size_t(a)];
        const T* z = logits_.data() + a * V;
        const int32_t tok =
            sample_row(z, V, o, rng[size_t(i)], SampleScratch{sample_idx_.data() + a * V, sample_p_.data() + a * V});
        picked[size_t(i)] = tok;
        out[size_t(i)].tokens.push_back(tok);
        out[size_t(i)].logprobs.push_back(token_logprob(z, V, tok));
      }
    });
    still.clear();
    for (int64_t i : active) {
      Seq& s = get(ids[size_t(i)]);
      s.tokens.push_back(picked[size_t(i)]);
      Generated& g = out[size_t(i)];
      if (std::find(o.stop_token_ids.begin(), o.stop_token_ids.end(), picked[size_t(i)]) != o.stop_token_ids.end())
        g.finish = 1;
      else if (int64_t(s.tokens.size()) >= m_.cfg.max_seq_len)
        g.finish = 2;
      else if (int64_t(g.tokens.size()) >= o.max_new_tokens)
        g.finish = 0;
      else
        still.push_back(i);
    }
    active.swap(still);
  }
  return out;
}

template std::vector<Generated> KVCache<float>::generate(const std::vector<int64_t>&, const SampleOptions&);
template std::vector<Generated> KVCache<double>::generate(const std::vector<int64_t>&, const SampleOptions&);

}  // namespace stepwise::model
