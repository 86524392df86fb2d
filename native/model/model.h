// The decoder-only transformer (Llama / Qwen2 family), llm.c style: one allocation for the parameters, one for
// their gradients, one for the activations saved by forward(), one for backward scratch. Templated on T:
// float for real work, double for exact finite-difference gradient checks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "ops.h"

namespace stepwise::model {

// A bad input (token id, length, index): `argument` names it; the napi layer throws a typed JS error.
struct InputError : std::invalid_argument {
  std::string code;  // "ERR_ARGUMENT" or "ERR_SEQ_TOO_LONG"
  InputError(const std::string& msg, std::string c = "ERR_ARGUMENT") : std::invalid_argument(msg), code(std::move(c)) {}
};

// A packed batch: sequence (segment) s is rows [offsets[s], offsets[s+1]) of tokens/targets/step_index.
// parents (nullptr = all -1) makes it a forest of segments: parents[s] = -1 (a root) or an earlier segment p < s
// that s continues: s attends to all of p's tokens (and p's ancestors') and its RoPE positions start at the
// ancestors' total length (ops.h attention_forward). The ancestors + s must fit in max_seq_len.
// targets[t] = the token whose log-prob is wanted at row t (usually the next token), -1 = none.
// step_index[t] in [-1, num_steps), -1 = in no step; must be -1 where targets[t] < 0. nullptr = all -1.
struct Batch {
  const int32_t* tokens = nullptr;
  const int32_t* targets = nullptr;
  const int32_t* step_index = nullptr;
  const int64_t* offsets = nullptr;
  const int32_t* parents = nullptr;
  int64_t num_seqs = 0;
  int64_t num_steps = 0;
  int64_t num_tokens() const { return offsets[num_seqs]; }
};

template <typename T>
class Model {
 public:
  explicit Model(const ModelConfig& c);

  const ModelConfig cfg;
  const ParamLayout layout;
  std::vector<T> params, grads;

  // HF-style init: every matrix and the embeddings ~ normal(0, std), norms = 1, biases = 0. Deterministic per seed
  // (splitmix64 + Box-Muller, not std::normal_distribution, whose output differs between standard libraries).
  void init(uint64_t seed, double std = 0.02);

  void check_batch(const Batch& b) const;  // throws InputError
  // Saves activations and the batch; token_logp() [n] and step_sum() [num_steps] hold the outputs.
  void forward(const Batch& b);
  // Adds d(sum_t gt*logp_t + sum_s gs*step_s)/dparams to grads (either pointer may be null). Needs the last forward.
  void backward(const T* grad_token, const T* grad_step);
  // Full logits [n, V] of a forward over b (tests, checkpoints and the uncached generation reference).
  void logits(const Batch& b, T* out);
  void zero_grad();

  const std::vector<T>& token_logp() const { return logp_; }
  const std::vector<T>& step_sum() const { return step_sum_; }
  const std::vector<T>& lse() const { return head_lse_; }
  bool has_forward() const { return n_ > 0; }
  uint64_t forward_id() const { return forward_id_; }
  const T* lm_head() const { return params.data() + layout.lm_head; }
  const T* rope_cos() const { return cos_.data(); }
  const T* rope_sin() const { return sin_.data(); }

 private:
  struct LayerActs {
    T *res, *xn1, *rstd1, *q, *k, *v, *att, *alse, *mid, *xn2, *rstd2, *gate, *up, *hb;
  };
  void carve(int64_t n);  // sizes the activation and scratch buffers for n rows and sets the pointers
  void run_layers();      // forward through the blocks and the final norm for the saved batch

  std::vector<T> cos_, sin_;
  std::vector<T> acts_, scratch_;
  std::vector<LayerActs> la_;
  T *res_final_ = nullptr, *xnf_ = nullptr, *rstdf_ = nullptr;
  T *dres_, *dxn_, *dq_, *dk_, *dv_, *datt_, *dhb_, *dgate_, *dup_;
  std::vector<int32_t> tokens_, targets_, steps_, pos_;
  std::vector<int64_t> offsets_;
  std::vector<int32_t> parents_;  // empty = every segment a root (the plain packed path)
  int64_t n_ = 0, num_steps_ = 0, capacity_ = -1;
  uint64_t forward_id_ = 0;
  std::vector<T> logp_, step_sum_, head_lse_;
};

}  // namespace stepwise::model
