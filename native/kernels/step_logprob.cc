// Step log-prob from logits [n, v] (fp32 or bf16): forward (token log p, step sums, lse, entropy, argmax hit)
// and backward (dlogits = g_t * (onehot - softmax), in place allowed). Design and measurements:
// docs/kernels-cpu.md.
//
// Fast path (exact = false): each row is streamed in L1-sized segments through RowOps (AVX2 or portable), one
// max pass and one exp pass per segment, one polynomial exp2 per element; the backward is one streaming pass.
// Exact path (exact = true): libm exp/log in double with double accumulation, for checks and small problems.
//
// Special values (fast and exact agree): a -inf logit has probability exactly 0; a target at -inf gives
// logp = -inf; a row whose values are all -inf gives NaN logp / lse = -inf (no distribution); NaN anywhere in
// a row gives NaN outputs for that row; +inf gives NaN. Nothing crashes or reads out of bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/dtype.h"
#include "kernels.h"
#include "step_logprob_rows.h"

namespace stepwise {
namespace {

using rows::RowOps;
using rows::RowResult;
using rows::RowState;

// Rows per scheduling block: ~64K elements, small enough to balance 2 threads, big enough that the atomic
// counter costs nothing.
// How far ahead (in segments) the exp pass prefetches the row: 1 = the next segment.
constexpr int64_t kPrefetchSegments = 1;

int64_t rows_per_task(int64_t v) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, v)); }

float load_logit(const void* logits, DType dt, int64_t idx) {
  return dt == DType::F32 ? static_cast<const float*>(logits)[idx]
                          : bf16_to_f32(static_cast<const uint16_t*>(logits)[idx]);
}

void write_row(const StepLogprobForward& a, int64_t t, const RowResult& r) {
  a.token_logp[t] = r.logp;
  a.lse[t] = r.lse;
  if (a.entropy) a.entropy[t] = r.entropy;
  if (a.argmax_hit) a.argmax_hit[t] = r.hit;
}

void write_ignored(const StepLogprobForward& a, int64_t t) { write_row(a, t, RowResult{0.0f, 0.0f, 0.0f, 0}); }

float shift_of(float m) { return m == -std::numeric_limits<float>::infinity() ? 0.0f : m; }

// Per-thread scratch of the fused forward+grad: the shift each segment's exps were taken against, and for bf16
// the row's fp32 exps (the bf16 output is written once, from them, in the second pass).
struct FusedScratch {
  std::vector<float> seg_shift;
  std::vector<float> row;
};

// grad == nullptr: the forward only. Otherwise (the fused forward+grad, kernels.h) the exp pass also stores each
// e_j = exp(z_j - shift_k) (into the grad row for fp32, which may be the logits row itself, or into an fp32 row
// scratch for bf16), and once the row's lse is known a second pass, from L2, multiplies segment k by
// exp(shift_k - lse): one exp per element and one read of the row from memory.
// Upstream gradients known before the forward (kernels.h): grad_token / grad_step, both null = unscaled.
struct KnownGrad {
  const float* token = nullptr;
  const float* step = nullptr;
  bool scaled() const { return token != nullptr || step != nullptr; }
  // The factor row t's softmax - onehot is multiplied by: 1 unscaled, else -g_t.
  float factor(const StepLogprobForward& a, int64_t t) const {
    return scaled() ? -rows::token_grad(t, a.targets, a.step_index, token, step) : 1.0f;
  }
};

void forward_fast_rows(const StepLogprobForward& a, const RowOps& ops, int64_t r0, int64_t r1, void* grad,
                       KnownGrad known) {
  const bool want_entropy = a.entropy != nullptr, want_argmax = a.argmax_hit != nullptr;
  alignas(32) float buf[rows::kSegment];  // bf16 segment widened to fp32 (per-thread, on the stack)
  const size_t esize = dtype_size(a.dtype);
  // One scratch per pool thread, kept across calls: this function runs once per block of rows (one row at a
  // time at V = 152K), and a bf16 row scratch is V floats, so allocating it here would sit on the hot path.
  static thread_local FusedScratch fs;
  if (grad) {
    const size_t segs = static_cast<size_t>((a.v + rows::kSegment - 1) / rows::kSegment);
    if (fs.seg_shift.size() < segs) fs.seg_shift.resize(segs);
    if (a.dtype == DType::BF16 && fs.row.size() < static_cast<size_t>(a.v)) fs.row.resize(static_cast<size_t>(a.v));
  }
  for (int64_t t = r0; t < r1; ++t) {
    const int32_t target = a.targets[t];
    char* grad_row = grad ? static_cast<char*>(grad) + t * a.v * esize : nullptr;
    if (target < 0) {
      write_ignored(a, t);
      if (grad_row) std::memset(grad_row, 0, static_cast<size_t>(a.v) * esize);
      continue;
    }
    const float row_factor = grad_row ? known.factor(a, t) : 1.0f;
    // Read before anything overwrites the row (grad may be the logits).
    const float zt = load_logit(a.logits, a.dtype, t * a.v + target);
    RowState st;
    rows::row_reset(st);
    for (int64_t c = 0, k = 0; c < a.v; c += rows::kSegment, ++k) {
      const int64_t len = std::min(rows::kSegment, a.v - c);
      const float* seg;
      if (a.dtype == DType::F32) {
        seg = static_cast<const float*>(a.logits) + t * a.v + c;
      } else {
        ops.widen(static_cast<const uint16_t*>(a.logits) + t * a.v + c, buf, len);
        seg = buf;
      }
      // Prefetch kPrefetchSegments ahead while this segment's exps run (a bf16 segment is widened into buf;
      // its bf16 source is prefetched, half the bytes). Rows are contiguous, so near the end of a row this
      // runs on into the next row, which the same thread most likely takes next.
      const int64_t ahead = t * a.v + c + len + rows::kSegment * (kPrefetchSegments - 1);
      const int64_t pf_len = std::max<int64_t>(0, std::min(rows::kSegment, a.n * a.v - ahead));
      const float* pf = pf_len == 0 ? nullptr
                        : a.dtype == DType::F32 ? static_cast<const float*>(a.logits) + ahead
                                                : reinterpret_cast<const float*>(static_cast<const uint16_t*>(a.logits) + ahead);
      float* e_out = nullptr;
      if (grad_row && row_factor != 0.0f) e_out = a.dtype == DType::F32 ? reinterpret_cast<float*>(grad_row) + c : fs.row.data() + c;
      ops.segment(st, seg, len, c, want_entropy, want_argmax, pf, a.dtype == DType::F32 ? pf_len : pf_len / 2, e_out);
      if (grad_row) fs.seg_shift[static_cast<size_t>(k)] = shift_of(st.m);
    }
    const rows::RowResult res = rows::row_finish(st, zt, target);
    write_row(a, t, res);
    if (!grad_row) continue;
    if (row_factor == 0.0f) {  // a known zero upstream gradient: exact zeros, as the backward writes
      std::memset(grad_row, 0, static_cast<size_t>(a.v) * esize);
      continue;
    }
    // p_j = e_j * exp(shift_k - lse), times the row's factor. lse in double from the row state, not the fp32
    // output: at |lse| ~ 1e4 the fp32 rounding alone would move every p by up to 5e-4 relative.
    // (A row of only -inf has lse = -inf and gets NaN, as in the backward.)
    const double log_s = std::log(st.s), lse_d = static_cast<double>(shift_of(st.m)) + log_s;
    for (int64_t c = 0, k = 0; c < a.v; c += rows::kSegment, ++k) {
      const int64_t len = std::min(rows::kSegment, a.v - c);
      const float f = static_cast<float>(row_factor * std::exp(static_cast<double>(fs.seg_shift[static_cast<size_t>(k)]) - lse_d));
      if (a.dtype == DType::F32) {
        float* g = reinterpret_cast<float*>(grad_row) + c;
        ops.scale_f32(g, g, len, f);
      } else {
        ops.scale_to_bf16(fs.row.data() + c, reinterpret_cast<uint16_t*>(grad_row) + c, len, f);
      }
    }
    // p_t - 1 = expm1(logp_t) without cancellation as p_t -> 1, from the same double logp the forward wrote
    // (rounded), so the gradient and tokenLogp agree however close p_t is to 1.
    const double logp_d = (static_cast<double>(zt) - shift_of(st.m)) - log_s;
    const float target_grad = static_cast<float>(row_factor * std::expm1(logp_d));
    if (a.dtype == DType::F32) reinterpret_cast<float*>(grad_row)[target] = target_grad;
    else reinterpret_cast<uint16_t*>(grad_row)[target] = f32_to_bf16(target_grad);
  }
}

void forward_exact_rows(const StepLogprobForward& a, int64_t r0, int64_t r1, void* grad, KnownGrad known) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (int64_t t = r0; t < r1; ++t) {
    const int32_t target = a.targets[t];
    if (target < 0) {
      write_ignored(a, t);
      if (grad)
        std::memset(static_cast<char*>(grad) + t * a.v * dtype_size(a.dtype), 0,
                    static_cast<size_t>(a.v) * dtype_size(a.dtype));
      continue;
    }
    const int64_t base = t * a.v;
    double m = -kInf;
    int64_t amax = 0;
    bool has_nan = false;
    for (int64_t j = 0; j < a.v; ++j) {
      const double z = load_logit(a.logits, a.dtype, base + j);
      if (z > m) {
        m = z;
        amax = j;
      }
      has_nan |= std::isnan(z);
    }
    const double shift = m == -kInf ? 0.0 : m;
    double s = 0.0, e_d = 0.0;
    for (int64_t j = 0; j < a.v; ++j) {
      const double d = load_logit(a.logits, a.dtype, base + j) - shift;
      const double e = std::exp(d);
      s += e;
      if (e != 0.0) e_d += e * d;  // p log p -> 0 as p -> 0 (d = -inf must not give 0 * -inf)
    }
    if (has_nan) s = std::numeric_limits<double>::quiet_NaN();
    const double log_s = std::log(s);
    const double zt = load_logit(a.logits, a.dtype, base + target);
    const double lse = shift + log_s;
    write_row(a, t,
              RowResult{static_cast<float>((zt - shift) - log_s), static_cast<float>(lse),
                        static_cast<float>(log_s - e_d / s), static_cast<uint8_t>(amax == target ? 1 : 0)});
    if (!grad) continue;
    const double c = known.factor(a, t);
    for (int64_t j = 0; j < a.v; ++j) {  // element j is read before it is written: in place is fine
      const double u = c == 0.0 ? 0.0
                       : j == target ? c * std::expm1(zt - lse)
                                     : c * std::exp(load_logit(a.logits, a.dtype, base + j) - lse);
      if (a.dtype == DType::F32) static_cast<float*>(grad)[base + j] = static_cast<float>(u);
      else static_cast<uint16_t*>(grad)[base + j] = f32_to_bf16(static_cast<float>(u));
    }
  }
}

// Writes g * (onehot - softmax) for row t. The target entry is taken from the fp32 logit read before the row
// is overwritten, as g * -expm1(z_t - lse) in double: no cancellation as p_t -> 1, and in bf16 no
// read-modify-write of an already rounded value.
void backward_fast_rows(const StepLogprobBackward& a, const RowOps& ops, int64_t r0, int64_t r1) {
  const size_t esize = dtype_size(a.dtype);
  for (int64_t t = r0; t < r1; ++t) {
    const float g = rows::token_grad(t, a.targets, a.step_index, a.grad_token, a.grad_step);
    const int32_t target = a.targets[t];
    char* out_row = static_cast<char*>(a.dlogits) + t * a.v * esize;
    if (target < 0 || g == 0.0f) {
      std::memset(out_row, 0, static_cast<size_t>(a.v) * esize);
      continue;
    }
    const float lse = a.lse[t];
    const double zt = load_logit(a.logits, a.dtype, t * a.v + target);
    const double target_grad = -static_cast<double>(g) * std::expm1(zt - lse);
    if (a.dtype == DType::F32) {
      ops.grad_f32(static_cast<const float*>(a.logits) + t * a.v, reinterpret_cast<float*>(out_row), a.v, lse, g);
      reinterpret_cast<float*>(out_row)[target] = static_cast<float>(target_grad);
    } else {
      const uint16_t* in = static_cast<const uint16_t*>(a.logits) + t * a.v;
      uint16_t* out = reinterpret_cast<uint16_t*>(out_row);
      ops.grad_bf16(in, out, a.v, lse, g);
      out[target] = f32_to_bf16(static_cast<float>(target_grad));
    }
  }
}

void backward_exact_rows(const StepLogprobBackward& a, int64_t r0, int64_t r1) {
  for (int64_t t = r0; t < r1; ++t) {
    const double g = rows::token_grad(t, a.targets, a.step_index, a.grad_token, a.grad_step);
    const int32_t target = a.targets[t];
    const double lse = target < 0 ? 0.0 : a.lse[t];
    const double zt = target < 0 ? 0.0 : load_logit(a.logits, a.dtype, t * a.v + target);
    for (int64_t j = 0; j < a.v; ++j) {
      double val = 0.0;
      if (target >= 0 && g != 0.0)
        val = j == target ? -g * std::expm1(zt - lse) : -g * std::exp(load_logit(a.logits, a.dtype, t * a.v + j) - lse);
      if (a.dtype == DType::F32)
        static_cast<float*>(a.dlogits)[t * a.v + j] = static_cast<float>(val);
      else
        static_cast<uint16_t*>(a.dlogits)[t * a.v + j] = f32_to_bf16(static_cast<float>(val));
    }
  }
}

void forward_impl(const StepLogprobForward& a, void* grad, KnownGrad known) {
  if (a.n > 0) {  // v = 0 is only valid with every token ignored: the row loops then just write zeros
    const RowOps& ops = rows::row_ops();
    rows::for_row_blocks(a.n, rows_per_task(a.v), [&](int64_t r0, int64_t r1) {
      if (a.exact)
        forward_exact_rows(a, r0, r1, grad, known);
      else
        forward_fast_rows(a, ops, r0, r1, grad, known);
    });
  }
  rows::step_sums(a.n, a.targets, a.step_index, a.num_steps, a.token_logp, a.step_sum);
}

}  // namespace

void step_logprob_forward(const StepLogprobForward& a) { forward_impl(a, nullptr, KnownGrad{}); }

void step_logprob_forward_grad(const StepLogprobForward& a, void* grad, const float* grad_token, const float* grad_step) {
  forward_impl(a, grad, KnownGrad{grad_token, grad_step});
}

void step_logprob_grad_scale(const StepLogprobGradScale& a) {
  if (a.n <= 0 || a.v <= 0) return;
  const RowOps& ops = rows::row_ops();
  const size_t esize = dtype_size(a.dtype);
  rows::for_row_blocks(a.n, rows_per_task(a.v), [&](int64_t r0, int64_t r1) {
    for (int64_t t = r0; t < r1; ++t) {
      const float c = -rows::token_grad(t, a.targets, a.step_index, a.grad_token, a.grad_step);
      char* row = static_cast<char*>(a.grad) + t * a.v * esize;
      if (c == 0.0f) {  // as the backward: no upstream gradient means exact zeros, whatever the row held
        std::memset(row, 0, static_cast<size_t>(a.v) * esize);
      } else if (a.dtype == DType::F32) {
        ops.scale_f32(reinterpret_cast<float*>(row), reinterpret_cast<float*>(row), a.v, c);
      } else {
        ops.scale_bf16(reinterpret_cast<uint16_t*>(row), reinterpret_cast<uint16_t*>(row), a.v, c);
      }
    }
  });
}

void step_logprob_backward(const StepLogprobBackward& a) {
  if (a.n <= 0 || a.v <= 0) return;
  const RowOps& ops = rows::row_ops();
  rows::for_row_blocks(a.n, rows_per_task(a.v), [&](int64_t r0, int64_t r1) {
    if (a.exact)
      backward_exact_rows(a, r0, r1);
    else
      backward_fast_rows(a, ops, r0, r1);
  });
}

}  // namespace stepwise
