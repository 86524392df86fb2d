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

void forward_fast_rows(const StepLogprobForward& a, const RowOps& ops, int64_t r0, int64_t r1) {
  const bool want_entropy = a.entropy != nullptr, want_argmax = a.argmax_hit != nullptr;
  alignas(32) float buf[rows::kSegment];  // bf16 segment widened to fp32 (per-thread, on the stack)
  for (int64_t t = r0; t < r1; ++t) {
    const int32_t target = a.targets[t];
    if (target < 0) {
      write_ignored(a, t);
      continue;
    }
    RowState st;
    rows::row_reset(st);
    for (int64_t c = 0; c < a.v; c += rows::kSegment) {
      const int64_t len = std::min(rows::kSegment, a.v - c);
      const float* seg;
      if (a.dtype == DType::F32) {
        seg = static_cast<const float*>(a.logits) + t * a.v + c;
      } else {
        ops.widen(static_cast<const uint16_t*>(a.logits) + t * a.v + c, buf, len);
        seg = buf;
      }
      ops.segment(st, seg, len, c, want_entropy, want_argmax);
    }
    write_row(a, t, rows::row_finish(st, load_logit(a.logits, a.dtype, t * a.v + target), target));
  }
}

void forward_exact_rows(const StepLogprobForward& a, int64_t r0, int64_t r1) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (int64_t t = r0; t < r1; ++t) {
    const int32_t target = a.targets[t];
    if (target < 0) {
      write_ignored(a, t);
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
    write_row(a, t,
              RowResult{static_cast<float>((zt - shift) - log_s), static_cast<float>(shift + log_s),
                        static_cast<float>(log_s - e_d / s), static_cast<uint8_t>(amax == target ? 1 : 0)});
  }
}

// Writes g * (onehot - softmax) for row t. The target entry is taken from the fp32 logit read before the row
// is overwritten, as g * -expm1(z_t - lse) in double: no cancellation as p_t -> 1, and in bf16 no
// read-modify-write of an already rounded value.
void backward_fast_rows(const StepLogprobBackward& a, const RowOps& ops, int64_t r0, int64_t r1) {
  alignas(32) float buf[rows::kSegment];
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
      for (int64_t c = 0; c < a.v; c += rows::kSegment) {
        const int64_t len = std::min(rows::kSegment, a.v - c);
        ops.widen(in + c, buf, len);  // read the whole segment before writing it (in place is allowed)
        ops.grad_bf16(buf, out + c, len, lse, g);
      }
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

}  // namespace

void step_logprob_forward(const StepLogprobForward& a) {
  if (a.n > 0) {  // v = 0 is only valid with every token ignored: the row loops then just write zeros
    const RowOps& ops = rows::row_ops();
    rows::for_row_blocks(a.n, rows_per_task(a.v), [&](int64_t r0, int64_t r1) {
      if (a.exact)
        forward_exact_rows(a, r0, r1);
      else
        forward_fast_rows(a, ops, r0, r1);
    });
  }
  rows::step_sums(a.n, a.targets, a.step_index, a.num_steps, a.token_logp, a.step_sum);
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
