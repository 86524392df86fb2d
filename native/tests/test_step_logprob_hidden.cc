// Checks step_logprob_hidden_{forward,backward} against the float64 reference (logits = H W^T in double),
// with the scratch budget shrunk so that small shapes go through several row chunks and V-tiles, plus central
// finite differences of the float64 objective with respect to H and W, and the memory bound of the auto plan.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/step_logprob_hidden.h"
#include "kernels/step_logprob_rows.h"
#include "step_logprob_ref.h"

using namespace stepwise;
using namespace steptest;
namespace {

struct HiddenProblem {
  int64_t n, d, v;
  DType dt;
  std::vector<double> h, w;  // as the kernel sees them (bf16-rounded when bf16)
  Problem p;                 // logits (double), targets, steps, upstream gradients
};

void recompute_logits(HiddenProblem& hp) {
  for (int64_t t = 0; t < hp.n; ++t)
    for (int64_t j = 0; j < hp.v; ++j) {
      double s = 0;
      for (int64_t k = 0; k < hp.d; ++k) s += hp.h[t * hp.d + k] * hp.w[j * hp.d + k];
      hp.p.z[t * hp.v + j] = s;
    }
}

HiddenProblem make_hidden(int64_t n, int64_t d, int64_t v, int64_t num_steps, DType dt, double logit_scale) {
  HiddenProblem hp{n, d, v, dt, {}, {}, make_problem(n, v, num_steps, false, DType::F32)};
  std::normal_distribution<double> nd(0.0, 1.0);
  auto round = [&](double x) { return dt == DType::F32 ? (double)(float)x : (double)bf16_to_f32(f32_to_bf16((float)x)); };
  hp.h.resize(n * d);
  for (auto& x : hp.h) x = round(nd(rng));
  hp.w.resize(v * d);
  for (auto& x : hp.w) x = round(nd(rng) * logit_scale / std::sqrt((double)std::max<int64_t>(1, d)));
  recompute_logits(hp);
  return hp;
}

struct HiddenOut {
  std::vector<float> logp, lse, ent, ss, dh, dw;
  std::vector<uint8_t> hit;
};

HiddenOut run_hidden(const HiddenProblem& hp, int64_t chunk_rows, bool accumulate, const std::vector<float>& dw0) {
  const std::vector<uint8_t> hb = encode(hp.h, hp.dt), wb = encode(hp.w, hp.dt);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  HiddenOut o{std::vector<float>(hp.n, nan), std::vector<float>(hp.n, nan), std::vector<float>(hp.n, nan),
              std::vector<float>(hp.p.num_steps, nan), std::vector<float>(hp.n * hp.d, nan), dw0, std::vector<uint8_t>(hp.n, 7)};
  StepLogprobHiddenForward f;
  f.hidden = hb.data(); f.weight = wb.data(); f.dtype = hp.dt; f.n = hp.n; f.d = hp.d; f.v = hp.v;
  f.targets = hp.p.targets.data(); f.step_index = hp.p.steps.data(); f.num_steps = hp.p.num_steps;
  f.token_logp = o.logp.data(); f.step_sum = o.ss.data(); f.lse = o.lse.data(); f.entropy = o.ent.data();
  f.argmax_hit = o.hit.data(); f.chunk_rows = chunk_rows;
  step_logprob_hidden_forward(f);
  StepLogprobHiddenBackward b;
  b.hidden = hb.data(); b.weight = wb.data(); b.dtype = hp.dt; b.n = hp.n; b.d = hp.d; b.v = hp.v;
  b.targets = hp.p.targets.data(); b.step_index = hp.p.steps.data(); b.num_steps = hp.p.num_steps; b.lse = o.lse.data();
  b.grad_token = hp.p.gtok.data(); b.grad_step = hp.p.gstep.data(); b.dhidden = o.dh.data(); b.dweight = o.dw.data();
  b.accumulate_dweight = accumulate; b.chunk_rows = chunk_rows;
  step_logprob_hidden_backward(b);
  return o;
}

// Element-wise check scaled by the array's largest reference value (fp32 GEMM error is relative to the sum
// of |terms|, not to the possibly cancelled result).
void check_array(const std::vector<float>& got, const std::vector<double>& want, double rel, const std::string& tag) {
  double scale = 1e-30;
  for (double x : want) scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < want.size(); ++i)
    if (!close(got[i], want[i], rel * scale, 0)) {
      check(false, tag + fmt("", (int64_t)i, got[i], want[i]));
      return;
    }
  check(true, tag);
}

// A row whose two largest logits are within the fp32 GEMM error: its argmax is not well defined in fp32.
bool near_tie(const Problem& p, int64_t t) {
  const double* z = &p.z[t * p.v];
  const double m = *std::max_element(z, z + p.v);
  int close_to_max = 0;
  for (int64_t j = 0; j < p.v; ++j) close_to_max += m - z[j] < 1e-4;
  return close_to_max > 1;
}

void test_hidden(int64_t n, int64_t d, int64_t v, DType dt, int64_t chunk_rows, int64_t budget, double logit_scale) {
  hidden::set_budget_bytes_for_tests(budget);
  HiddenProblem hp = make_hidden(n, d, v, 3, dt, logit_scale);
  const Ref r = reference(hp.p);
  const bool accumulate = (rng() & 1) != 0;
  std::vector<float> dw0(v * d);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& x : dw0) x = nd(rng);
  const HiddenOut o = run_hidden(hp, chunk_rows, accumulate, dw0);
  const std::string tag = std::string(dt == DType::F32 ? "hidden f32" : "hidden bf16") + " n=" + std::to_string(n) +
                          " d=" + std::to_string(d) + " v=" + std::to_string(v) + " chunk=" + std::to_string(chunk_rows) +
                          " budget=" + std::to_string(budget) + " ";
  // fp32 GEMM over d terms: logits off by ~sqrt(d) * 6e-8 * |h||w|, well under the 1e-4 of the fast path.
  for (int64_t t = 0; t < n; ++t) {
    check(close(o.logp[t], r.logp[t], 2e-4, 1e-6), tag + fmt("logp", t, o.logp[t], r.logp[t]));
    check(close(o.lse[t], r.lse[t], 2e-4, 1e-6), tag + fmt("lse", t, o.lse[t], r.lse[t]));
    check(close(o.ent[t], r.ent[t], 2e-4, 1e-5), tag + fmt("entropy", t, o.ent[t], r.ent[t]));
    if (!near_tie(hp.p, t)) check(o.hit[t] == r.hit[t], tag + fmt("hit", t, o.hit[t], r.hit[t]));
  }
  for (int64_t s = 0; s < hp.p.num_steps; ++s) check(close(o.ss[s], r.step[s], 2e-4 * n, 1e-6), tag + fmt("step", s, o.ss[s], r.step[s]));
  // dH = G W, dW (+)= G^T H with G the float64 d objective / d logits.
  std::vector<double> G(n * v), dh(n * d, 0.0), dw(v * d, 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < v; ++j) G[t * v + j] = ref_grad(hp.p, r, t, j);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < v; ++j)
      for (int64_t k = 0; k < d; ++k) {
        dh[t * d + k] += G[t * v + j] * hp.w[j * d + k];
        dw[j * d + k] += G[t * v + j] * hp.h[t * d + k];
      }
  std::vector<float> dw_got = o.dw;
  if (accumulate)
    for (size_t i = 0; i < dw_got.size(); ++i) dw_got[i] -= dw0[i];
  check_array(o.dh, dh, 2e-5, tag + "dhidden");
  check_array(dw_got, dw, 2e-5, tag + (accumulate ? "dweight(accumulated)" : "dweight"));
}

// Central differences of the float64 objective in H and W vs the kernel's (fp32) dhidden and dweight.
void test_hidden_finite_difference() {
  hidden::set_budget_bytes_for_tests(4096);
  HiddenProblem hp = make_hidden(7, 5, 40, 2, DType::F32, 3.0);
  const HiddenOut o = run_hidden(hp, 0, false, std::vector<float>(hp.v * hp.d, 0.0f));
  for (int k = 0; k < 40; ++k) {
    const bool in_w = k % 2 == 1;
    std::vector<double>& x = in_w ? hp.w : hp.h;
    const size_t i = rng() % x.size();
    const double x0 = x[i], h = 1e-5;
    x[i] = x0 + h; recompute_logits(hp); const double up = ref_objective(hp.p);
    x[i] = x0 - h; recompute_logits(hp); const double dn = ref_objective(hp.p);
    x[i] = x0; recompute_logits(hp);
    const double fd = (up - dn) / (2 * h), got = in_w ? o.dw[i] : o.dh[i];
    check(close(got, fd, 1e-5, 1e-4), fmt(in_w ? "finite-difference dweight" : "finite-difference dhidden", (int64_t)i, got, fd));
  }
}

// The auto plan keeps scratch under a quarter of a materialised fp32 [n, V] at the spec's shapes.
void test_plan_bounds() {
  hidden::set_budget_bytes_for_tests(0);
  struct S { int64_t n, d, v; DType dt; } shapes[] = {{2048, 896, 32000, DType::F32}, {2048, 896, 32000, DType::BF16},
      {2048, 896, 151936, DType::F32}, {4096, 3584, 151936, DType::BF16}, {16384, 4096, 128256, DType::BF16}};
  for (const S& s : shapes)
    for (bool bwd : {false, true}) {
      const hidden::Plan p = hidden::make_plan(s.n, s.d, s.v, s.dt, 0, bwd);
      const bool ok = p.extra_bytes < (int64_t{64} << 20) && p.rows >= 256 && p.cols >= 512;
      check(ok, "plan n=" + std::to_string(s.n) + " d=" + std::to_string(s.d) + " v=" + std::to_string(s.v) + " rows=" +
                    std::to_string(p.rows) + " cols=" + std::to_string(p.cols) + " bytes=" + std::to_string(p.extra_bytes));
    }
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = seed_rng();
  for (DType dt : {DType::F32, DType::BF16}) {
    test_hidden(0, 4, 9, dt, 0, 0, 3.0);
    test_hidden(1, 1, 1, dt, 0, 0, 3.0);
    test_hidden(5, 3, 17, dt, 0, 0, 3.0);
    test_hidden(13, 16, 37, dt, 0, 0, 3.0);       // one chunk, one tile
    test_hidden(13, 16, 37, dt, 4, 0, 3.0);       // row chunks of 4
    test_hidden(13, 16, 37, dt, 0, 1500, 3.0);    // budget forces several chunks and 16-column tiles
    test_hidden(29, 24, 300, dt, 3, 3000, 30.0);  // large logits, small chunks, V-tiles with a ragged tail
    test_hidden(40, 64, 2100, dt, 0, 200000, 4.0);
    test_hidden(6, 0, 11, dt, 0, 0, 3.0);         // d = 0: every logit is 0, uniform softmax
  }
  test_hidden_finite_difference();
  test_plan_bounds();
  hidden::set_budget_bytes_for_tests(0);
  return finish("test_step_logprob_hidden", argc, argv, seed, rows::row_ops().name);
}
