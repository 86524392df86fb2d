// Sampling from a logits row. Top-k is a bounded min-heap scan (one comparison per logit for all but a few),
// not nth_element over the whole vocabulary: at decode sizes the sampler ran once per row per step and the
// partition sort was a visible share of a step.
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace stepwise::model {

uint64_t splitmix_next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
int32_t sample_row(const T* z, int64_t V, const SampleOptions& o, uint64_t& rng, SampleScratch scratch) {
  if (o.temperature <= 0) return int32_t(std::max_element(z, z + V) - z);
  int32_t* idx = scratch.idx;
  double* p = scratch.p;
  // a ranks before b: higher logit, or the same logit and a lower id.
  auto before = [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  int64_t k = V;
  if (o.top_k > 0 && o.top_k < V) {
    k = o.top_k;
    // idx[0..k) is a heap whose front is the worst kept candidate (std heaps put the "largest" under the
    // comparator first, and `before` makes the worst the largest).
    std::iota(idx, idx + k, 0);
    std::make_heap(idx, idx + k, before);
    for (int32_t j = int32_t(k); j < V; ++j) {
      if (!before(j, idx[0])) continue;
      std::pop_heap(idx, idx + k, before);
      idx[k - 1] = j;
      std::push_heap(idx, idx + k, before);
    }
  } else {
    std::iota(idx, idx + V, 0);
  }
  // Heap order is the library's business and top-p needs the candidates by probability: sort them (k is small
  // whenever a top-k is set). Without top-k or top-p the id order is already deterministic.
  if (k < V || o.top_p < 1) std::sort(idx, idx + k, before);
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
  const double u = (double(splitmix_next(rng) >> 11) * (1.0 / 9007199254740992.0)) * total;
  double acc = 0;
  for (int64_t i = 0; i < k; ++i) {
    acc += p[i];
    if (u < acc) return idx[i];
  }
  return idx[k - 1];
}

template <typename T>
float token_logprob(const T* z, int64_t V, int32_t tok) {
  const T m = *std::max_element(z, z + V);
  double s = 0;
  // exp of T (float: expf, about twice as fast as exp on doubles); the sum is double.
  for (int64_t j = 0; j < V; ++j) s += double(std::exp(z[j] - m));
  return float(double(z[tok]) - double(m) - std::log(s));
}

template int32_t sample_row<float>(const float*, int64_t, const SampleOptions&, uint64_t&, SampleScratch);
template int32_t sample_row<double>(const double*, int64_t, const SampleOptions&, uint64_t&, SampleScratch);
template float token_logprob<float>(const float*, int64_t, int32_t);
template float token_logprob<double>(const double*, int64_t, int32_t);

}  // namespace stepwise::model
