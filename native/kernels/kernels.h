// The kernel contract: plain functions over pointers and sizes, no Node headers. The CPU implementations
// live in native/kernels/*.cc, the CUDA ones in cuda/*.cu behind native/gpu/gpu.h with the same argument
// structs (device pointers there). The float64 JS references in packages/native/src/reference/ are the
// readable definition of every output; the N-API layer (native/napi) validates arguments before calling here,
// so these functions may assume valid sizes, but they still never read or write out of bounds.
//
// Conventions shared by every kernel:
// - Accumulation is in fp32 or wider whatever the input dtype; gradient outputs are fp32 unless stated.
// - A token with target < 0 is ignored: its outputs are 0 (lse 0, entropy 0, hit 0) and its gradient is 0.
//   Ignored tokens must have step index -1.
// - step_index[t] in [-1, num_steps): -1 = the token belongs to no step (its per-token outputs are still
//   computed, it adds to no step sum). Steps need not be contiguous.
// - Upstream gradients are with respect to the OUTPUTS (log-probs), so d logp_t / d z_tj = onehot - softmax.
// - Bad values are never hidden: NaN or +Infinity anywhere in a non-ignored row makes that row's lse NaN, and a
//   non-ignored row of only -Infinity gives lse = -Infinity. The N-API layer relies on this to reject bad
//   logits in O(n) after the forward (native/napi/args.h, check_forward_rows); the C++ tests pin it.
#pragma once
#include <cstdint>

#include "../common/dtype.h"

namespace stepwise {

// ---- (a) step log-prob from logits ------------------------------------------------------------------
struct StepLogprobForward {
  const void* logits = nullptr;  // [n, v] dtype
  DType dtype = DType::F32;
  int64_t n = 0, v = 0;
  const int32_t* targets = nullptr;     // [n]
  const int32_t* step_index = nullptr;  // [n], nullptr = every token in no step
  int64_t num_steps = 0;
  float* token_logp = nullptr;  // [n] out: log softmax(z_t)[target_t]
  float* step_sum = nullptr;    // [num_steps] out: sum of token_logp over the step's tokens (0 for empty)
  float* lse = nullptr;         // [n] out: log-sum-exp of row t (saved for backward)
  float* entropy = nullptr;     // [n] optional out: -sum p log p of row t
  uint8_t* argmax_hit = nullptr;  // [n] optional out: 1 if target_t is an argmax of row t (first max wins)
  bool exact = false;  // true: libm exp/log with double accumulation (matches float64 to ~1e-6); false: fast path
};
void step_logprob_forward(const StepLogprobForward& a);

struct StepLogprobBackward {
  const void* logits = nullptr;  // [n, v] dtype (the forward's input)
  DType dtype = DType::F32;
  int64_t n = 0, v = 0;
  const int32_t* targets = nullptr;
  const int32_t* step_index = nullptr;
  int64_t num_steps = 0;
  const float* lse = nullptr;         // [n] from the forward
  const float* grad_token = nullptr;  // [n] upstream d/d token_logp, nullptr = 0
  const float* grad_step = nullptr;   // [num_steps] upstream d/d step_sum, nullptr = 0
  void* dlogits = nullptr;  // [n, v] dtype out: g_t * (onehot - softmax); may equal logits (in place)
  bool exact = false;
};
void step_logprob_backward(const StepLogprobBackward& a);

// ---- (a+) fused: the forward plus the UNSCALED gradient in one pass --------------------------------------
// Computes everything step_logprob_forward computes (same outputs, same fast/exact paths) and also writes
//   grad[t, :] = softmax(z_t) - onehot(target_t)      (= -d logp_t / d z_t)
// for every non-ignored row, and 0 for ignored rows. grad may equal logits (in place: the logits are destroyed)
// or be a separate [n, v] buffer of the same dtype. The target entry is computed as expm1(z_t - lse) in double,
// from the logit read before the row is overwritten.
// Why: the full gradient g_t * (onehot - softmax) needs g_t, which for DPO-style losses is known only after the
// forward (the sums feed the loss). The separate backward then re-reads and re-exponentiates every element; this
// path reads each row once and spends one exp per element (kernels.md §2, the "fwd + grad in place" column). The
// per-token scale -g_t is applied by whoever consumes the gradient (a GEMM operand or epilogue scale), or by
// step_logprob_grad_scale below, which materialises dlogits.
// When the upstream gradient is known before the forward (the NLL of SFT, or any loss linear in the log-probs),
// pass it: with grad_token and/or grad_step non-null, grad receives the finished g_t * (onehot - softmax),
// exactly what step_logprob_backward would write, still in the one pass.
void step_logprob_forward_grad(const StepLogprobForward& a, void* grad, const float* grad_token = nullptr,
                               const float* grad_step = nullptr);

// In place over grad (the output of step_logprob_forward_grad): grad[t, :] *= -g_t with
// g_t = grad_token[t] + grad_step[step_index[t]] (missing pieces 0; ignored tokens 0). Afterwards grad holds
// exactly what step_logprob_backward writes: g_t * (onehot - softmax).
struct StepLogprobGradScale {
  void* grad = nullptr;  // [n, v] dtype, in/out
  DType dtype = DType::F32;
  int64_t n = 0, v = 0;
  const int32_t* targets = nullptr;
  const int32_t* step_index = nullptr;
  int64_t num_steps = 0;
  const float* grad_token = nullptr;  // [n] or nullptr
  const float* grad_step = nullptr;   // [num_steps] or nullptr
};
void step_logprob_grad_scale(const StepLogprobGradScale& a);

// ---- (a') step log-prob from hidden states and the LM head (logits never stored whole) ---------------
struct StepLogprobHiddenForward {
  const void* hidden = nullptr;  // [n, d] dtype
  const void* weight = nullptr;  // [v, d] dtype (the LM head, row j = token j)
  DType dtype = DType::F32;
  int64_t n = 0, d = 0, v = 0;
  const int32_t* targets = nullptr;
  const int32_t* step_index = nullptr;
  int64_t num_steps = 0;
  float* token_logp = nullptr;  // [n]
  float* step_sum = nullptr;    // [num_steps]
  float* lse = nullptr;         // [n]
  float* entropy = nullptr;     // [n] optional
  uint8_t* argmax_hit = nullptr;  // [n] optional
  int64_t chunk_rows = 0;  // rows of logits held at once; 0 = auto (bounded scratch, see docs/kernels.md)
};
void step_logprob_hidden_forward(const StepLogprobHiddenForward& a);

struct StepLogprobHiddenBackward {
  const void* hidden = nullptr;  // [n, d]
  const void* weight = nullptr;  // [v, d]
  DType dtype = DType::F32;
  int64_t n = 0, d = 0, v = 0;
  const int32_t* targets = nullptr;
  const int32_t* step_index = nullptr;
  int64_t num_steps = 0;
  const float* lse = nullptr;         // [n] from the forward
  const float* grad_token = nullptr;  // [n] or nullptr
  const float* grad_step = nullptr;   // [num_steps] or nullptr
  float* dhidden = nullptr;  // [n, d] fp32 out (overwritten); nullptr = not wanted
  float* dweight = nullptr;  // [v, d] fp32 out; nullptr = not wanted
  bool accumulate_dweight = false;  // true: dweight += ..., false: dweight = ...
  int64_t chunk_rows = 0;
};
void step_logprob_hidden_backward(const StepLogprobHiddenBackward& a);

// ---- (b) reward weighting: per-segment softmax of scale_s * r over a ragged batch ---------------------
// Segment s covers elements [offsets[s], offsets[s+1]); scale_s = +gamma for chosen, -gamma for rejected
// (Full-Step-DPO, methods.md §4.3). An empty segment produces nothing.
struct RewardWeightsForward {
  const float* rewards = nullptr;  // [total]
  const int64_t* offsets = nullptr;  // [num_segments + 1], offsets[0] = 0, non-decreasing, last = total
  const float* scale = nullptr;    // [num_segments]
  int64_t num_segments = 0, total = 0;
  float* weights = nullptr;  // [total] out
};
void reward_weights_forward(const RewardWeightsForward& a);

struct RewardWeightsBackward {
  const float* weights = nullptr;       // [total] from the forward
  const float* grad_weights = nullptr;  // [total] upstream
  const int64_t* offsets = nullptr;
  const float* scale = nullptr;
  int64_t num_segments = 0, total = 0;
  float* grad_rewards = nullptr;  // [total] out: scale_s * w_i * (g_i - sum_j w_j g_j)
};
void reward_weights_backward(const RewardWeightsBackward& a);

// ---- (c) DPO margin loss, gradients and reductions ---------------------------------------------------
enum class PreferenceLoss : int32_t { Sigmoid = 0, Ipo = 1 };

// Per pair p: h = (pc - rc) - (pr - rr); z = beta*h - margin_p.
//   Sigmoid: loss = -(1-eps) log sigma(z) - eps log sigma(-z)
//   Ipo:     loss = (h - 1/(2 beta))^2   (margin and eps ignored; sums should be length-normalised by caller)
// grad_chosen = grad_scale * d loss_p / d pc,  grad_rejected = grad_scale * d loss_p / d pr.
struct DpoMarginArgs {
  int64_t num_pairs = 0;
  const float* policy_chosen = nullptr;    // [P]
  const float* policy_rejected = nullptr;  // [P]
  const float* ref_chosen = nullptr;       // [P]
  const float* ref_rejected = nullptr;     // [P]
  const float* margin = nullptr;           // [P] or nullptr = 0
  float beta = 0.1f;
  float label_smoothing = 0.0f;
  PreferenceLoss loss_type = PreferenceLoss::Sigmoid;
  float grad_scale = 1.0f;
  float* loss = nullptr;           // [P] out
  float* grad_chosen = nullptr;    // [P] out (nullable)
  float* grad_rejected = nullptr;  // [P] out (nullable)
};
struct DpoReductions {
  double mean_loss = 0;
  double reward_accuracy = 0;  // fraction of pairs with chosen reward > rejected reward
  double chosen_reward = 0;    // mean beta * (pc - rc)
  double rejected_reward = 0;  // mean beta * (pr - rr)
  double margin = 0;           // mean beta * h
};
DpoReductions dpo_margin(const DpoMarginArgs& a);

}  // namespace stepwise
