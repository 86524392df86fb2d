// Forward and backward of the whole model: embeddings, the blocks (pre-norm attention and SwiGLU MLP with
// residuals), the final norm and the head.
#include "model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/parallel.h"

namespace stepwise::model {

namespace {
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
double uniform01(uint64_t& s) { return (double(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
}  // namespace

template <typename T>
Model<T>::Model(const ModelConfig& c) : cfg((c.validate(), c)), layout(c) {
  params.assign(size_t(layout.total), T(0));
  grads.assign(size_t(layout.total), T(0));
  const int64_t half = cfg.hd() / 2;
  cos_.resize(size_t(cfg.max_seq_len * half));
  sin_.resize(size_t(cfg.max_seq_len * half));
  rope_tables<T>(cos_.data(), sin_.data(), cfg.max_seq_len, cfg.hd(), cfg.rope_theta);
}

template <typename T>
void Model<T>::init(uint64_t seed, double std) {
  uint64_t s = seed;
  for (const auto& t : layout.tensors) {
    T* p = params.data() + t.offset;
    const bool is_norm = t.shape.size() == 1 && t.name.find("norm") != std::string::npos;
    const bool is_bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
    for (int64_t i = 0; i < t.size; ++i) {
      if (is_norm) {
        p[i] = T(1);
      } else if (is_bias) {
        p[i] = T(0);
      } else {
        const double u1 = uniform01(s), u2 = uniform01(s);
        p[i] = T(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
      }
    }
  }
}

template <typename T>
void Model<T>::zero_grad() {
  std::fill(grads.begin(), grads.end(), T(0));
}

template <typename T>
void Model<T>::check_batch(const Batch& b) const {
  auto bad = [](const std::string& m, const char* code = "ERR_ARGUMENT") { throw InputError(m, code); };
  if (b.num_seqs <= 0) bad("batch: expected at least one sequence");
  if (b.offsets[0] != 0) bad("offsets[0]: expected 0");
  std::vector<int64_t> chain(size_t(b.num_seqs));  // tokens of the segment and all its ancestors
  for (int64_t s = 0; s < b.num_seqs; ++s) {
    const int64_t len = b.offsets[s + 1] - b.offsets[s];
    if (len < 1) bad("sequence " + std::to_string(s) + ": expected at least one token");
    const int32_t p = b.parents ? b.parents[s] : -1;
    if (p < -1 || p >= s)
      bad("parents[" + std::to_string(s) + "]: expected -1 or an earlier sequence in [0, " + std::to_string(s) +
          "), got " + std::to_string(p));
    chain[s] = len + (p >= 0 ? chain[p] : 0);
    if (chain[s] > cfg.max_seq_len)
      bad("sequence " + std::to_string(s) + ": length " + std::to_string(chain[s]) +
              (p >= 0 ? " (with its ancestors)" : "") + " exceeds maxSeqLen " + std::to_string(cfg.max_seq_len),
          "ERR_SEQ_TOO_LONG");
  }
  if (b.num_steps < 0) bad("numSteps: expected >= 0");
  const int64_t n = b.num_tokens(), V = cfg.vocab_size;
  for (int64_t t = 0; t < n; ++t) {
    if (b.tokens[t] < 0 || b.tokens[t] >= V)
      bad("tokens[" + std::to_string(t) + "]: expected an id in [0, " + std::to_string(V) + "), got " +
          std::to_string(b.tokens[t]));
    if (b.targets && (b.targets[t] < -1 || b.targets[t] >= V))
      bad("targets[" + std::to_string(t) + "]: expected -1 or an id in [0, " + std::to_string(V) + "), got " +
          std::to_string(b.targets[t]));
    if (b.step_index) {
      const int32_t si = b.step_index[t];
      if (si < -1 || si >= b.num_steps)
        bad("stepIndex[" + std::to_string(t) + "]: expected -1 or an index in [0, numSteps), got " + std::to_string(si));
      if (si >= 0 && (!b.targets || b.targets[t] < 0))
        bad("stepIndex[" + std::to_string(t) + "]: expected -1 where targets is -1");
    }
  }
}

template <typename T>
void Model<T>::carve(int64_t n) {
  const int64_t D = cfg.hidden_size, F = cfg.intermediate_size, Q = cfg.q_dim(), KV = cfg.kv_dim(),
                H = cfg.num_heads, L = cfg.num_layers;
  const int64_t per_layer = 5 * D + 2 * Q + 2 * KV + H + 2 + 3 * F;
  if (n > capacity_) {  // grow only: repeated batches of similar size reuse the same buffers
    acts_.assign(size_t(n * (per_layer * L + 2 * D + 1)), T(0));
    scratch_.assign(size_t(n * (2 * D + 2 * Q + 2 * KV + 3 * F)), T(0));
    capacity_ = n;
  }
  T* p = acts_.data();
  auto take = [&](int64_t w) {
    T* r = p;
    p += n * w;
    return r;
  };
  la_.resize(size_t(L));
  for (auto& a : la_) {
    a.res = take(D), a.xn1 = take(D), a.rstd1 = take(1), a.q = take(Q), a.k = take(KV), a.v = take(KV);
    a.att = take(Q), a.alse = take(H), a.mid = take(D), a.xn2 = take(D), a.rstd2 = take(1);
    a.gate = take(F), a.up = take(F), a.hb = take(F);
  }
  res_final_ = take(D), xnf_ = take(D), rstdf_ = take(1);
  p = scratch_.data();
  dres_ = take(D), dxn_ = take(D), dq_ = take(Q), datt_ = take(Q), dk_ = take(KV), dv_ = take(KV);
  dhb_ = take(F), dgate_ = take(F), dup_ = take(F);
}

template <typename T>
void Model<T>::run_layers() {
  const int64_t n = n_, D = cfg.hidden_size, F = cfg.intermediate_size, Q = cfg.q_dim(), KV = cfg.kv_dim();
  const AttnShape sh{cfg.num_heads, cfg.num_kv_heads, cfg.hd()};
  const T* P = params.data();
  const T* emb = P + layout.embed;
  parallel_for(n, 16, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) std::copy_n(emb + int64_t(tokens_[t]) * D, D, la_[0].res + t * D);
  });
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    const LayerOffsets& o = layout.layers[l];
    LayerActs& a = la_[l];
    rmsnorm_forward<T>(a.xn1, a.rstd1, a.res, P + o.ln1, n, D, cfg.rms_norm_eps);
    linear_forward<T>(a.q, a.xn1, P + o.wq, o.bq >= 0 ? P + o.bq : nullptr, n, D, Q, false);
    linear_forward<T>(a.k, a.xn1, P + o.wk, o.bk >= 0 ? P + o.bk : nullptr, n, D, KV, false);
    linear_forward<T>(a.v, a.xn1, P + o.wv, o.bv >= 0 ? P + o.bv : nullptr, n, D, KV, false);
    rope_apply<T>(a.q, n, cfg.num_heads, cfg.hd(), pos_.data(), cos_.data(), sin_.data(), false);
    rope_apply<T>(a.k, n, cfg.num_kv_heads, cfg.hd(), pos_.data(), cos_.data(), sin_.data(), false);
    attention_forward<T>(a.att, a.alse, a.q, a.k, a.v, offsets_.data(), int64_t(offsets_.size()) - 1, sh,
                         parents_.empty() ? nullptr : parents_.data());
    std::copy_n(a.res, n * D, a.mid);
    linear_forward<T>(a.mid, a.att, P + o.wo, nullptr, n, Q, D, true);
    rmsnorm_forward<T>(a.xn2, a.rstd2, a.mid, P + o.ln2, n, D, cfg.rms_norm_eps);
    linear_forward<T>(a.gate, a.xn2, P + o.wgate, nullptr, n, D, F, false);
    linear_forward<T>(a.up, a.xn2, P + o.wup, nullptr, n, D, F, false);
    swiglu_forward<T>(a.hb, a.gate, a.up, n * F);
    T* next = l + 1 < cfg.num_layers ? la_[l + 1].res : res_final_;
    std::copy_n(a.mid, n * D, next);
    linear_forward<T>(next, a.hb, P + o.wdown, nullptr, n, F, D, true);
  }
  rmsnorm_forward<T>(xnf_, rstdf_, res_final_, P + layout.final_norm, n, D, cfg.rms_norm_eps);
}

template <typename T>
void Model<T>::forward(const Batch& b) {
  check_batch(b);
  const int64_t n = b.num_tokens();
  tokens_.assign(b.tokens, b.tokens + n);
  targets_.resize(size_t(n));
  steps_.resize(size_t(n));
  for (int64_t t = 0; t < n; ++t) {
    targets_[t] = b.targets ? b.targets[t] : -1;
    steps_[t] = b.step_index ? b.step_index[t] : -1;
  }
  offsets_.assign(b.offsets, b.offsets + b.num_seqs + 1);
  parents_.clear();
  if (b.parents && std::any_of(b.parents, b.parents + b.num_seqs, [](int32_t p) { return p >= 0; }))
    parents_.assign(b.parents, b.parents + b.num_seqs);
  // RoPE positions restart at 0 in a root and continue after the ancestors' tokens in a child segment.
  std::vector<int64_t> start(size_t(b.num_seqs), 0);
  pos_.resize(size_t(n));
  for (int64_t s = 0; s < b.num_seqs; ++s) {
    const int32_t p = parents_.empty() ? -1 : parents_[s];
    if (p >= 0) start[s] = start[p] + offsets_[p + 1] - offsets_[p];
    for (int64_t t = offsets_[s]; t < offsets_[s + 1]; ++t) pos_[t] = int32_t(start[s] + t - offsets_[s]);
  }
  n_ = n;
  num_steps_ = b.num_steps;
  carve(n);
  run_layers();
  logp_.resize(size_t(n));
  head_lse_.resize(size_t(n));
  step_sum_.resize(size_t(num_steps_));
  const HeadArgs ha{n, cfg.hidden_size, cfg.vocab_size, targets_.data(), steps_.data(), num_steps_};
  head_forward<T>(xnf_, lm_head(), ha, logp_.data(), step_sum_.data(), head_lse_.data());
  ++forward_id_;
}

template <typename T>
void Model<T>::logits(const Batch& b, T* out) {
  forward(b);
  gemm<T>(false, true, n_, cfg.vocab_size, cfg.hidden_size, T(1), xnf_, cfg.hidden_size, lm_head(), cfg.hidden_size,
          T(0), out, cfg.vocab_size);
}

template <typename T>
void Model<T>::backward(const T* grad_token, const T* grad_step) {
  if (n_ == 0) throw InputError("backward: expected a forward() first");
  const int64_t n = n_, D = cfg.hidden_size, F = cfg.intermediate_size, Q = cfg.q_dim(), KV = cfg.kv_dim();
  const AttnShape sh{cfg.num_heads, cfg.num_kv_heads, cfg.hd()};
  const T* P = params.data();
  T* G = grads.data();
  const HeadArgs ha{n, D, cfg.vocab_size, targets_.data(), steps_.data(), num_steps_};
  head_backward<T>(xnf_, lm_head(), ha, head_lse_.data(), grad_token, grad_step, dxn_, G + layout.lm_head);
  rmsnorm_backward<T>(dres_, G + layout.final_norm, dxn_, res_final_, P + layout.final_norm, rstdf_, n, D, false);
  // dres_ carries d loss / d residual stream backwards through every block (the residual adds pass it through).
  for (int64_t l = cfg.num_layers - 1; l >= 0; --l) {
    const LayerOffsets& o = layout.layers[l];
    LayerActs& a = la_[l];
    linear_backward<T>(dhb_, G + o.wdown, nullptr, dres_, a.hb, P + o.wdown, n, F, D, false);
    swiglu_backward<T>(dgate_, dup_, dhb_, a.gate, a.up, n * F);
    linear_backward<T>(dxn_, G + o.wgate, nullptr, dgate_, a.xn2, P + o.wgate, n, D, F, false);
    linear_backward<T>(dxn_, G + o.wup, nullptr, dup_, a.xn2, P + o.wup, n, D, F, true);
    rmsnorm_backward<T>(dres_, G + o.ln2, dxn_, a.mid, P + o.ln2, a.rstd2, n, D, true);
    linear_backward<T>(datt_, G + o.wo, nullptr, dres_, a.att, P + o.wo, n, Q, D, false);
    attention_backward<T>(dq_, dk_, dv_, datt_, a.att, a.alse, a.q, a.k, a.v, offsets_.data(),
                          int64_t(offsets_.size()) - 1, sh, parents_.empty() ? nullptr : parents_.data());
    rope_apply<T>(dq_, n, cfg.num_heads, cfg.hd(), pos_.data(), cos_.data(), sin_.data(), true);
    rope_apply<T>(dk_, n, cfg.num_kv_heads, cfg.hd(), pos_.data(), cos_.data(), sin_.data(), true);
    linear_backward<T>(dxn_, G + o.wq, o.bq >= 0 ? G + o.bq : nullptr, dq_, a.xn1, P + o.wq, n, D, Q, false);
    linear_backward<T>(dxn_, G + o.wk, o.bk >= 0 ? G + o.bk : nullptr, dk_, a.xn1, P + o.wk, n, D, KV, true);
    linear_backward<T>(dxn_, G + o.wv, o.bv >= 0 ? G + o.bv : nullptr, dv_, a.xn1, P + o.wv, n, D, KV, true);
    rmsnorm_backward<T>(dres_, G + o.ln1, dxn_, a.res, P + o.ln1, a.rstd1, n, D, true);
  }
  // Embedding rows may repeat: threads own column ranges so the scatter-add has no race.
  T* ge = G + layout.embed;
  parallel_for(D, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t t = 0; t < n; ++t) {
      T* row = ge + int64_t(tokens_[t]) * D;
      for (int64_t c = c0; c < c1; ++c) row[c] += dres_[t * D + c];
    }
  });
}

template class Model<float>;
template class Model<double>;

}  // namespace stepwise::model
