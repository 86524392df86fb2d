// Batched sampling over the KV cache: greedy, temperature, top-k, top-p; stop token ids and max tokens.
// Stop strings are the TypeScript side's job (it owns the tokenizer).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/parallel.h"
#include "kv_cache.h"

namespace stepwise::model {

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Returns the sampled token; idx/p are V-sized scratch owned by the caller.
template <typename T>
int32_t sample_row(const T* z, int64_t V, const SampleOptions& o, uint64_t& rng, int32_t* idx, double* p) {
  if (o.temperature <= 0) return int32_t(std::max_element(z, z + V) - z);
  std::iota(idx, idx + V, 0);
  int64_t k = V;
  auto by_logit = [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  if (o.top_k > 0 && o.top_k < V) {
    std::nth_element(idx, idx + o.top_k, idx + V, by_logit);
    k = o.top_k;
  }
  if (o.top_p < 1) std::sort(idx, idx + k, by_logit);  // top-p needs the candidates by descending probability
  double m = -INFINITY;
  for (int64_t i = 0; i < k; ++i) m = std::max(m, double(z[idx[i]]));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += (p[i] = std::exp((double(z[idx[i]]) - m) / o.temperature));
  if (o.top_p < 1) {
    double cum = 0;
    int64_t keep = 0;
    while (keep < k && (keep == 0 || cum < o.top_p * total)) cum += p[keep++];
    k = keep;
    total = cum;
  }
  const double u = (double(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0)) * total;
  double acc = 0;
  for (int64_t i = 0; i < k; ++i) {
    acc += p[i];
    if (u < acc) return idx[i];
  }
  return idx[k - 1];
}

}  // namespace

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
  for (int64_t i = 0; i < B; ++i) {
    uint64_t s = o.seed ^ (0xd1b54a32d192ed03ull * uint64_t(i + 1));
    rng[size_t(i)] = splitmix(s);
  }
  std::vector<int64_t> active;
  for (int64_t i = 0; i < B; ++i) {
    if (int64_t(get(ids[size_t(i)]).tokens.size()) >= m_.cfg.max_seq_len) out[size_t(i)].finish = 2;
    else if (o.max_new_tokens > 0) active.push_back(i);
  }
  if (int64_t(logits_.size()) < B * V) logits_.resize(size_t(B * V));
  if (int64_t(sample_idx_.size()) < B * V) sample_idx_.resize(size_t(B * V)), sample_p_.resize(size_t(B * V));
  std::vector<int64_t> act_ids;
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
        const int32_t tok = sample_row(z, V, o, rng[size_t(i)], sample_idx_.data() + a * V, sample_p_.data() + a * V);
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < V; ++j) m = std::max(m, double(z[j]));
        for (int64_t j = 0; j < V; ++j) s += std::exp(double(z[j]) - m);
        picked[size_t(i)] = tok;
        out[size_t(i)].tokens.push_back(tok);
        out[size_t(i)].logprobs.push_back(float(double(z[tok]) - m - std::log(s)));
      }
    });
    std::vector<int64_t> still;
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
