// Engine correctness on tiny configs: every parameter tensor's gradient against central finite differences in
// float64 (relative error <= 1e-6), float32 vs float64 forward agreement, and packed-sequence isolation.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

using namespace stepwise::model;

namespace {

int failures = 0;
void check(bool ok, const char* what, double value) {
  std::printf("%s %-58s %.3e\n", ok ? "ok  " : "FAIL", what, value);
  if (!ok) ++failures;
}

struct Data {
  std::vector<int32_t> tokens, targets, steps;
  std::vector<int64_t> offsets;
  int64_t num_steps = 0;
  std::vector<double> gt, gs;  // loss weights: L = sum gt*logp + sum gs*step_sum
  Batch batch() const {
    Batch b;
    b.tokens = tokens.data(), b.targets = targets.data(), b.step_index = steps.data(), b.offsets = offsets.data();
    b.num_seqs = int64_t(offsets.size()) - 1, b.num_steps = num_steps;
    return b;
  }
};

Data make_data(int64_t V, std::vector<int64_t> lens, uint32_t seed) {
  std::mt19937 rng(seed);
  Data d;
  d.offsets.push_back(0);
  for (int64_t len : lens) {
    for (int64_t i = 0; i < len; ++i) d.tokens.push_back(int32_t(rng() % V));
    d.offsets.push_back(d.offsets.back() + len);
  }
  // Next-token targets inside each sequence, -1 on the last token; steps of 2 tokens, the first token of each
  // sequence in no step (like a prompt token).
  for (size_t s = 0; s + 1 < d.offsets.size(); ++s)
    for (int64_t t = d.offsets[s]; t < d.offsets[s + 1]; ++t) {
      const bool last = t + 1 == d.offsets[s + 1];
      d.targets.push_back(last ? -1 : d.tokens[t + 1]);
      d.steps.push_back(last || t == d.offsets[s] ? -1 : int32_t(d.num_steps + (t - d.offsets[s] - 1) / 2));
    }
  for (int32_t s : d.steps) d.num_steps = std::max<int64_t>(d.num_steps, s + 1);
  std::uniform_real_distribution<double> u(-1, 1);
  for (size_t t = 0; t < d.tokens.size(); ++t) d.gt.push_back(u(rng));
  for (int64_t s = 0; s < d.num_steps; ++s) d.gs.push_back(u(rng));
  return d;
}

double loss(Model<double>& m, const Data& d) {
  m.forward(d.batch());
  double l = 0;
  for (size_t t = 0; t < d.gt.size(); ++t) l += d.gt[t] * m.token_logp()[t];
  for (int64_t s = 0; s < d.num_steps; ++s) l += d.gs[size_t(s)] * m.step_sum()[size_t(s)];
  return l;
}

void randomize(Model<double>& m, uint64_t seed) {
  m.init(seed, 0.4);
  std::mt19937 rng(uint32_t(seed) + 7);
  std::uniform_real_distribution<double> u(-0.2, 0.2);
  for (auto& p : m.params) p += u(rng);  // norms away from 1, biases away from 0: every path is exercised
}

void gradcheck(const char* name, ModelConfig c) {
  Model<double> m(c);
  randomize(m, 42);
  const Data d = make_data(c.vocab_size, {5, 3, 4}, 3);
  loss(m, d);
  m.zero_grad();
  m.backward(d.gt.data(), d.gs.data());
  const std::vector<double> analytic = m.grads;
  double worst = 0;
  const double h = 1e-5;
  for (const auto& t : m.layout.tensors) {
    double num2 = 0, diff2 = 0, ana2 = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      double& p = m.params[size_t(t.offset + i)];
      const double p0 = p;
      p = p0 + h;
      const double lp = loss(m, d);
      p = p0 - h;
      const double lm = loss(m, d);
      p = p0;
      const double num = (lp - lm) / (2 * h), ana = analytic[size_t(t.offset + i)];
      num2 += num * num, ana2 += ana * ana, diff2 += (num - ana) * (num - ana);
    }
    const double rel = std::sqrt(diff2) / std::max({std::sqrt(num2), std::sqrt(ana2), 1e-300});
    if (ana2 == 0) check(false, (std::string(name) + " zero gradient " + t.name).c_str(), 0);
    if (rel > 1e-6) check(false, (std::string(name) + " " + t.name).c_str(), rel);
    worst = std::max(worst, rel);
  }
  char label[128];
  std::snprintf(label, sizeof label, "%s: max rel error over %zu tensors", name, m.layout.tensors.size());
  check(worst <= 1e-6, label, worst);

  // float32 forward on the same parameters agrees with float64.
  Model<float> f(c);
  for (size_t i = 0; i < m.params.size(); ++i) f.params[i] = float(m.params[i]);
  f.forward(d.batch());
  m.forward(d.batch());
  double err = 0;
  for (size_t t = 0; t < d.tokens.size(); ++t) err = std::max(err, std::abs(double(f.token_logp()[t]) - m.token_logp()[t]));
  std::snprintf(label, sizeof label, "%s: float32 vs float64 token logp max abs diff", name);
  check(err < 1e-4, label, err);

  // float32 backward (head through the shared kernel, accumulating dW) agrees with the float64 gradients; run it
  // twice to check accumulation too.
  f.zero_grad();
  std::vector<float> gtf(d.gt.begin(), d.gt.end()), gsf(d.gs.begin(), d.gs.end());
  f.forward(d.batch());
  f.backward(gtf.data(), gsf.data());
  f.backward(gtf.data(), gsf.data());
  double worst32 = 0;
  for (const auto& t : m.layout.tensors) {
    double diff2 = 0, ref2 = 0;
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
      const double a = double(f.grads[size_t(i)]) / 2, r = analytic[size_t(i)];
      diff2 += (a - r) * (a - r), ref2 += r * r;
    }
    worst32 = std::max(worst32, std::sqrt(diff2 / std::max(ref2, 1e-300)));
  }
  std::snprintf(label, sizeof label, "%s: float32 vs float64 gradients, max rel error", name);
  check(worst32 < 1e-4, label, worst32);
}

// The middle sequence scored alone equals the same sequence inside the packed batch.
void packing(ModelConfig c) {
  Model<double> m(c);
  randomize(m, 5);
  const Data d = make_data(c.vocab_size, {5, 3, 4}, 9);
  m.forward(d.batch());
  std::vector<double> packed(m.token_logp().begin() + 5, m.token_logp().begin() + 8);
  Data one;
  one.tokens.assign(d.tokens.begin() + 5, d.tokens.begin() + 8);
  one.targets.assign(d.targets.begin() + 5, d.targets.begin() + 8);
  one.steps.assign(3, -1);
  one.offsets = {0, 3};
  m.forward(one.batch());
  double err = 0;
  for (int i = 0; i < 3; ++i) err = std::max(err, std::abs(packed[size_t(i)] - m.token_logp()[size_t(i)]));
  check(err < 1e-12 && packed[0] != 0, "packed sequences never attend across boundaries", err);
}

}  // namespace

int main() {
  ModelConfig base;
  base.vocab_size = 13, base.hidden_size = 8, base.intermediate_size = 12, base.num_layers = 2;
  base.num_heads = 4, base.num_kv_heads = 2, base.head_dim = 0, base.max_seq_len = 16, base.rope_theta = 100.0;
  base.rms_norm_eps = 1e-6;

  ModelConfig a = base;  // GQA, QKV bias, untied (Qwen2-like)
  a.qkv_bias = true, a.tie_embeddings = false;
  gradcheck("gqa+bias+untied", a);
  ModelConfig b = base;  // MQA, no bias, tied (Llama-like with tied embeddings)
  b.num_kv_heads = 1, b.tie_embeddings = true;
  gradcheck("mqa+tied", b);
  ModelConfig c = base;  // MHA, bias, tied, explicit head_dim != hidden/heads
  c.num_heads = 2, c.num_kv_heads = 2, c.head_dim = 6, c.qkv_bias = true, c.tie_embeddings = true;
  gradcheck("mha+bias+tied+headDim6", c);
  packing(a);

  std::printf(failures ? "%d FAILED\n" : "all passed\n", failures);
  return failures ? 1 : 0;
}
