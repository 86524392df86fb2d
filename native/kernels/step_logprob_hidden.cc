// Step log-prob from hidden states [n, d] and the LM head W [v, d]: logits are produced one tile of
// C rows x Vb vocabulary columns at a time by sgemm and never exist whole (extra memory O(C*Vb + n)).
//
// Forward: for each chunk of C valid rows, for each V-tile: tile = H_c * W_tile^T, then every row's RowState
// takes the tile as one segment (online rescale per tile), and the target logit is picked from the tile.
// Backward (recompute): the same tiles are recomputed, turned in place into g*(onehot - softmax), then
// dH_c += dZ * W_tile and dW_tile += dZ^T * H_c. Ignored tokens, and in the backward tokens with g = 0, are
// dropped before any GEMM (rows are gathered), so prompt tokens cost no GEMM work.
// bf16 inputs are widened per chunk (hidden rows) and per tile (W rows); the GEMMs run in fp32.
#include "step_logprob_hidden.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/blas.h"
#include "kernels.h"
#include "step_logprob_rows.h"

namespace stepwise {
namespace lmhead {

namespace {
std::atomic<int64_t> g_budget{0};
}  // namespace

void set_budget_bytes_for_tests(int64_t bytes) { g_budget.store(bytes); }

Plan make_plan(int64_t valid_rows, int64_t d, int64_t v, DType dtype, int64_t chunk_rows, bool backward_dhidden) {
  Plan p;
  if (valid_rows <= 0 || v <= 0) return p;
  const int64_t budget = g_budget.load() > 0 ? g_budget.load() : kBudgetBytes;
  const int64_t per_row = d * 4 * (backward_dhidden ? 2 : 1);  // hidden chunk (+ dhidden chunk), fp32
  int64_t c = chunk_rows > 0 ? chunk_rows : std::min<int64_t>(2048, std::max<int64_t>(1, budget / 3 / std::max<int64_t>(1, per_row)));
  c = std::min(c, valid_rows);
  const int64_t w_row = dtype == DType::BF16 ? d * 4 : 0;  // widened W tile row
  const int64_t left = std::max<int64_t>(0, budget - c * per_row);
  int64_t cols = left / std::max<int64_t>(1, c * 4 + w_row);
  cols = cols >= 64 ? cols / 64 * 64 : std::max<int64_t>(cols, 16);  // whole cache lines, GEMM-friendly widths
  p.rows = c;
  p.cols = std::min(cols, v);
  p.extra_bytes = c * per_row + p.rows * p.cols * 4 + p.cols * w_row;
  return p;
}

}  // namespace lmhead

namespace {

using rows::RowOps;

// Per-call scratch: allocated once per call, sized by the plan.
struct Scratch {
  std::vector<float> h;   // [C, d] gathered (and widened) hidden rows
  std::vector<float> dh;  // [C, d] backward only
  std::vector<float> tile;  // [C, Vb]
  std::vector<float> w;     // [Vb, d] bf16 only
};

// Gathers rows idx[k0..k0+cr) of hidden into h (fp32).
void gather_hidden(const void* hidden, DType dt, int64_t d, const int64_t* idx, int64_t cr, float* h, const RowOps& ops) {
  rows::for_row_blocks(cr, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (dt == DType::F32)
        std::memcpy(h + r * d, static_cast<const float*>(hidden) + idx[r] * d, static_cast<size_t>(d) * 4);
      else
        ops.widen(static_cast<const uint16_t*>(hidden) + idx[r] * d, h + r * d, d);
    }
  });
}

// The fp32 rows [v0, v0+vb) of W: a pointer into W itself, or the widened copy in w.
const float* weight_tile(const void* weight, DType dt, int64_t d, int64_t v0, int64_t vb, float* w, const RowOps& ops) {
  if (dt == DType::F32) return static_cast<const float*>(weight) + v0 * d;
  const uint16_t* src = static_cast<const uint16_t*>(weight) + v0 * d;
  rows::for_row_blocks(vb, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d)), [&](int64_t r0, int64_t r1) {
    ops.widen(src + r0 * d, w + r0 * d, (r1 - r0) * d);
  });
  return w;
}

// Zero-dimensional hidden (d = 0): every logit is 0; sgemm with k = 0 gives exactly that, so nothing special.

}  // namespace

void step_logprob_hidden_forward(const StepLogprobHiddenForward& a) {
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>(std::max<int64_t>(0, a.n)));
  for (int64_t t = 0; t < a.n; ++t) {
    if (a.targets[t] >= 0) {
      idx.push_back(t);
    } else {
      a.token_logp[t] = 0.0f;
      a.lse[t] = 0.0f;
      if (a.entropy) a.entropy[t] = 0.0f;
      if (a.argmax_hit) a.argmax_hit[t] = 0;
    }
  }
  const int64_t nv = static_cast<int64_t>(idx.size());
  const lmhead::Plan plan = lmhead::make_plan(nv, a.d, a.v, a.dtype, a.chunk_rows, false);
  if (nv > 0 && plan.rows > 0) {
    const RowOps& ops = rows::row_ops();
    Scratch s;
    s.h.resize(static_cast<size_t>(plan.rows * a.d));
    s.tile.resize(static_cast<size_t>(plan.rows * plan.cols));
    if (a.dtype == DType::BF16) s.w.resize(static_cast<size_t>(plan.cols * a.d));
    std::vector<rows::RowState> st(static_cast<size_t>(plan.rows));
    std::vector<float> zt(static_cast<size_t>(plan.rows));
    const bool want_entropy = a.entropy != nullptr, want_argmax = a.argmax_hit != nullptr;
    for (int64_t k0 = 0; k0 < nv; k0 += plan.rows) {
      const int64_t cr = std::min(plan.rows, nv - k0);
      const int64_t* rid = idx.data() + k0;
      gather_hidden(a.hidden, a.dtype, a.d, rid, cr, s.h.data(), ops);
      for (int64_t r = 0; r < cr; ++r) rows::row_reset(st[static_cast<size_t>(r)]);
      for (int64_t v0 = 0; v0 < a.v; v0 += plan.cols) {
        const int64_t vb = std::min(plan.cols, a.v - v0);
        const float* w = weight_tile(a.weight, a.dtype, a.d, v0, vb, s.w.data(), ops);
        float* tile = s.tile.data();
        sgemm(false, true, cr, vb, a.d, 1.0f, s.h.data(), a.d, w, a.d, 0.0f, tile, vb);
        rows::for_row_blocks(cr, std::max<int64_t>(1, 65536 / vb), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const float* z = tile + r * vb;
            ops.segment(st[static_cast<size_t>(r)], z, vb, v0, want_entropy, want_argmax, nullptr, 0, nullptr);
            const int64_t tgt = a.targets[rid[r]];
            if (tgt >= v0 && tgt < v0 + vb) zt[static_cast<size_t>(r)] = z[tgt - v0];
          }
        });
      }
      for (int64_t r = 0; r < cr; ++r) {
        const int64_t t = rid[r];
        const rows::RowResult res = rows::row_finish(st[static_cast<size_t>(r)], zt[static_cast<size_t>(r)], a.targets[t]);
        a.token_logp[t] = res.logp;
        a.lse[t] = res.lse;
        if (a.entropy) a.entropy[t] = res.entropy;
        if (a.argmax_hit) a.argmax_hit[t] = res.hit;
      }
    }
  }
  rows::step_sums(a.n, a.targets, a.step_index, a.num_steps, a.token_logp, a.step_sum);
}

void step_logprob_hidden_backward(const StepLogprobHiddenBackward& a) {
  if (a.dhidden) std::memset(a.dhidden, 0, static_cast<size_t>(std::max<int64_t>(0, a.n * a.d)) * sizeof(float));
  if (a.dweight && !a.accumulate_dweight)
    std::memset(a.dweight, 0, static_cast<size_t>(std::max<int64_t>(0, a.v * a.d)) * sizeof(float));
  if (!a.dhidden && !a.dweight) return;
  std::vector<int64_t> idx;
  std::vector<float> gv;
  for (int64_t t = 0; t < a.n; ++t) {
    const float g = rows::token_grad(t, a.targets, a.step_index, a.grad_token, a.grad_step);
    if (a.targets[t] >= 0 && g != 0.0f) {
      idx.push_back(t);
      gv.push_back(g);
    }
  }
  const int64_t nv = static_cast<int64_t>(idx.size());
  const lmhead::Plan plan = lmhead::make_plan(nv, a.d, a.v, a.dtype, a.chunk_rows, a.dhidden != nullptr);
  if (nv == 0 || plan.rows == 0) return;
  const RowOps& ops = rows::row_ops();
  Scratch s;
  s.h.resize(static_cast<size_t>(plan.rows * a.d));
  if (a.dhidden) s.dh.resize(static_cast<size_t>(plan.rows * a.d));
  s.tile.resize(static_cast<size_t>(plan.rows * plan.cols));
  if (a.dtype == DType::BF16) s.w.resize(static_cast<size_t>(plan.cols * a.d));
  for (int64_t k0 = 0; k0 < nv; k0 += plan.rows) {
    const int64_t cr = std::min(plan.rows, nv - k0);
    const int64_t* rid = idx.data() + k0;
    const float* g = gv.data() + k0;
    gather_hidden(a.hidden, a.dtype, a.d, rid, cr, s.h.data(), ops);
    for (int64_t v0 = 0; v0 < a.v; v0 += plan.cols) {
      const int64_t vb = std::min(plan.cols, a.v - v0);
      const float* w = weight_tile(a.weight, a.dtype, a.d, v0, vb, s.w.data(), ops);
      float* tile = s.tile.data();
      sgemm(false, true, cr, vb, a.d, 1.0f, s.h.data(), a.d, w, a.d, 0.0f, tile, vb);
      rows::for_row_blocks(cr, std::max<int64_t>(1, 65536 / vb), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          float* z = tile + r * vb;
          const float lse = a.lse[rid[r]];
          const int64_t tgt = a.targets[rid[r]];
          const bool here = tgt >= v0 && tgt < v0 + vb;
          const double zt = here ? z[tgt - v0] : 0.0;  // read before the row is overwritten
          ops.grad_f32(z, z, vb, lse, g[r]);
          if (here) z[tgt - v0] = static_cast<float>(-static_cast<double>(g[r]) * std::expm1(zt - lse));
        }
      });
      if (a.dhidden) sgemm(false, false, cr, a.d, vb, 1.0f, tile, vb, w, a.d, v0 == 0 ? 0.0f : 1.0f, s.dh.data(), a.d);
      if (a.dweight) sgemm(true, false, vb, a.d, cr, 1.0f, tile, vb, s.h.data(), a.d, 1.0f, a.dweight + v0 * a.d, a.d);
    }
    if (a.dhidden)
      for (int64_t r = 0; r < cr; ++r)
        std::memcpy(a.dhidden + rid[r] * a.d, s.dh.data() + r * a.d, static_cast<size_t>(a.d) * sizeof(float));
  }
}

}  // namespace stepwise
