// Checks step_logprob_{forward,backward}, the fused step_logprob_forward_grad + step_logprob_grad_scale, and step_logprob_hidden_{forward,backward} against a float64
// reference written here, on fresh random inputs (seeded per run from the clock unless STEPWISE_TEST_SEED is
// set), over many shapes and the special values of the contract; plus central finite differences of the
// float64 objective for the backward. Runs itself a second time with STEPWISE_PORTABLE_KERNELS=1 so the
// portable fallback is checked as well as the AVX2 path. Exit status 0 = all passed.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "kernels/kernels.h"
#include "kernels/step_logprob_rows.h"
#include "step_logprob_ref.h"

using namespace stepwise;
using namespace steptest;
namespace {

// ---- from logits ----
void test_logits(int64_t n, int64_t v, int64_t num_steps, DType dt, bool exact, bool specials, bool null_steps) {
  Problem p = make_problem(n, v, num_steps, specials, dt);
  if (null_steps) std::fill(p.steps.begin(), p.steps.end(), -1);
  const Ref r = reference(p);
  std::vector<uint8_t> buf = encode(p.z, dt);
  const float poison = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> logp(n, poison), lse(n, poison), ent(n, poison), ssum(num_steps, poison);
  std::vector<uint8_t> hit(n, 7);
  StepLogprobForward f;
  f.logits = buf.data(); f.dtype = dt; f.n = n; f.v = v; f.targets = p.targets.data();
  f.step_index = null_steps ? nullptr : p.steps.data(); f.num_steps = num_steps;
  f.token_logp = logp.data(); f.step_sum = ssum.data(); f.lse = lse.data(); f.entropy = ent.data(); f.argmax_hit = hit.data();
  f.exact = exact;
  step_logprob_forward(f);
  const std::string tag = std::string(dt == DType::F32 ? "f32" : "bf16") + (exact ? "/exact" : "/fast") + " n=" +
                          std::to_string(n) + " v=" + std::to_string(v) + " ";
  // fp32 outputs carry their own rounding (6e-8 relative): at 1e4 that is 1e-3, hence the relative terms.
  const double atol = exact ? 1e-6 : 1e-4, rtol = 2e-7;
  for (int64_t t = 0; t < n; ++t) {
    check(close(logp[t], r.logp[t], atol, rtol), tag + fmt("logp", t, logp[t], r.logp[t]));
    check(close(lse[t], r.lse[t], atol, rtol), tag + fmt("lse", t, lse[t], r.lse[t]));
    if (std::isfinite(r.lse[t])) check(close(ent[t], r.ent[t], atol, 1e-5), tag + fmt("entropy", t, ent[t], r.ent[t]));
    check(hit[t] == r.hit[t], tag + fmt("hit", t, hit[t], r.hit[t]));
  }
  for (int64_t s = 0; s < num_steps; ++s) {
    double mag = 0;
    for (int64_t t = 0; t < n; ++t) if (!null_steps && p.steps[t] == s) mag += std::fabs(r.logp[t]);
    check(close(ssum[s], r.step[s], atol * (1 + mag), rtol * 4), tag + fmt("step", s, ssum[s], r.step[s]));
  }
  // Backward, in place for half the cases; the target rows with -inf need finite lse to be defined.
  const bool in_place = (rng() & 1) != 0;
  std::vector<uint8_t> out(buf.size(), 0xFF);  // 0xFFFF.. is NaN in both dtypes: every element must be written
  StepLogprobBackward b;
  b.logits = buf.data(); b.dtype = dt; b.n = n; b.v = v; b.targets = p.targets.data();
  b.step_index = f.step_index; b.num_steps = num_steps; b.lse = lse.data();
  b.grad_token = p.gtok.data(); b.grad_step = p.gstep.data(); b.dlogits = in_place ? buf.data() : out.data(); b.exact = exact;
  if (null_steps) b.grad_step = nullptr;
  step_logprob_backward(b);
  const std::vector<uint8_t>& dz = in_place ? buf : out;
  const double brtol = dt == DType::BF16 ? 1.0 / 128 : (exact ? 1e-6 : 8e-6);
  for (int64_t t = 0; t < n; ++t) {
    if (!std::isfinite(r.lse[t])) continue;
    // The kernel uses the fp32 lse it was given, off by up to half an ulp: that shifts every p by the factor
    // exp(dlse), i.e. relative error |lse| * 6e-8 on p and absolute |g| * |lse| * 6e-8 on the target's 1 - p.
    const double g = p.targets[t] < 0 ? 0.0 : p.gtok[t] + (p.steps[t] >= 0 ? p.gstep[p.steps[t]] : 0.0);
    const double rt = brtol + std::fabs(r.lse[t]) * 1.2e-7;
    const double at = 1e-7 * (1 + std::fabs(g)) + std::fabs(g) * std::fabs(r.lse[t]) * 1.2e-7;
    for (int64_t j = 0; j < v; ++j) {
      const double want = ref_grad(p, r, t, j);  // null_steps: every step index is -1, so g = grad_token
      const double got = decode(dz, dt, t * v + j);
      if (!close(got, want, at, rt)) {
        check(false, tag + (in_place ? "in-place " : "") + fmt("dlogits", t * v + j, got, want) +
                         (j == p.targets[t] ? " (target)" : ""));
        break;
      }
    }
  }
  check(true, "");
}

// The fused forward+grad (kernels.h (a+)): its forward outputs are bitwise those of step_logprob_forward (the
// same row code), its unscaled gradient is softmax - onehot against float64, and step_logprob_grad_scale turns
// it into what the backward writes. In place (grad = logits) for half the cases.
void test_fused(int64_t n, int64_t v, int64_t num_steps, DType dt, bool exact, bool specials) {
  Problem p = make_problem(n, v, num_steps, specials, dt);
  const Ref r = reference(p);
  std::vector<uint8_t> buf = encode(p.z, dt);
  std::vector<float> logp(n), lse(n), ent(n), ssum(num_steps), logp2(n), lse2(n), ent2(n), ssum2(num_steps);
  std::vector<uint8_t> hit(n), hit2(n);
  StepLogprobForward f;
  f.logits = buf.data(); f.dtype = dt; f.n = n; f.v = v; f.targets = p.targets.data(); f.step_index = p.steps.data();
  f.num_steps = num_steps; f.token_logp = logp.data(); f.step_sum = ssum.data(); f.lse = lse.data();
  f.entropy = ent.data(); f.argmax_hit = hit.data(); f.exact = exact;
  step_logprob_forward(f);
  const bool in_place = (rng() & 1) != 0;
  std::vector<uint8_t> out(buf.size(), 0xFF);  // NaN in both dtypes: every element must be written
  StepLogprobForward f2 = f;
  f2.token_logp = logp2.data(); f2.step_sum = ssum2.data(); f2.lse = lse2.data(); f2.entropy = ent2.data();
  f2.argmax_hit = hit2.data();
  if ((rng() & 3) == 0) f2.entropy = nullptr, f2.argmax_hit = nullptr;  // the optional outputs are optional here too
  step_logprob_forward_grad(f2, in_place ? buf.data() : out.data());
  std::vector<uint8_t>& grad = in_place ? buf : out;
  const std::string tag = std::string("fused ") + (dt == DType::F32 ? "f32" : "bf16") + (exact ? "/exact" : "/fast") +
                          (in_place ? " in-place" : "") + " n=" + std::to_string(n) + " v=" + std::to_string(v) + " ";
  bool same = std::memcmp(logp.data(), logp2.data(), n * 4) == 0 && std::memcmp(lse.data(), lse2.data(), n * 4) == 0 &&
              std::memcmp(ssum.data(), ssum2.data(), num_steps * 4) == 0;
  if (f2.entropy) same &= std::memcmp(ent.data(), ent2.data(), n * 4) == 0 && hit == hit2;
  check(same, tag + "forward outputs differ from step_logprob_forward");
  const double brtol = dt == DType::BF16 ? 1.0 / 128 : (exact ? 1e-6 : 8e-6);
  for (int64_t t = 0; t < n; ++t) {
    const bool ignored = p.targets[t] < 0;
    if (!ignored && !std::isfinite(r.lse[t])) continue;
    const double rt = brtol + std::fabs(r.lse[t]) * 1.2e-7, at = 2e-7 + std::fabs(r.lse[t]) * 1.2e-7;
    for (int64_t j = 0; j < v; ++j) {
      double want = 0;
      if (!ignored) want = j == p.targets[t] ? std::expm1(r.logp[t]) : std::exp(p.z[t * v + j] - r.lse[t]);
      const double got = decode(grad, dt, t * v + j);
      if (ignored ? got != 0.0 : !close(got, want, at, rt)) {
        check(false, tag + fmt("unscaled grad", t * v + j, got, want) + (j == p.targets[t] ? " (target)" : ""));
        break;
      }
    }
  }
  StepLogprobGradScale sc;
  sc.grad = grad.data(); sc.dtype = dt; sc.n = n; sc.v = v; sc.targets = p.targets.data(); sc.step_index = p.steps.data();
  sc.num_steps = num_steps; sc.grad_token = p.gtok.data(); sc.grad_step = p.gstep.data();
  step_logprob_grad_scale(sc);
  for (int64_t t = 0; t < n; ++t) {
    if (!std::isfinite(r.lse[t])) continue;
    const double g = p.targets[t] < 0 ? 0.0 : p.gtok[t] + (p.steps[t] >= 0 ? p.gstep[p.steps[t]] : 0.0);
    // bf16: the unscaled value was rounded once and the scaled one again, so two roundings.
    const double rt = (dt == DType::BF16 ? 2.0 / 128 : brtol) + std::fabs(r.lse[t]) * 1.2e-7;
    const double at = 1e-7 * (1 + std::fabs(g)) + std::fabs(g) * std::fabs(r.lse[t]) * 1.2e-7;
    for (int64_t j = 0; j < v; ++j) {
      const double want = ref_grad(p, r, t, j), got = decode(grad, dt, t * v + j);
      if (!close(got, want, at, rt)) {
        check(false, tag + fmt("scaled grad", t * v + j, got, want));
        break;
      }
    }
  }
  // Upstream gradient known before the forward: the finished dlogits in the one pass (one bf16 rounding).
  std::vector<uint8_t> buf2 = encode(p.z, dt);
  const bool token_only = (rng() & 1) != 0;
  StepLogprobForward f3 = f2;
  f3.logits = buf2.data();  // (in place above, buf holds the gradient now)
  step_logprob_forward_grad(f3, buf2.data(), p.gtok.data(), token_only ? nullptr : p.gstep.data());
  for (int64_t t = 0; t < n; ++t) {
    if (!std::isfinite(r.lse[t])) continue;
    const double g = p.targets[t] < 0 ? 0.0 : p.gtok[t] + (!token_only && p.steps[t] >= 0 ? p.gstep[p.steps[t]] : 0.0);
    const double rt = brtol + std::fabs(r.lse[t]) * 1.2e-7;
    const double at = 1e-7 * (1 + std::fabs(g)) + std::fabs(g) * std::fabs(r.lse[t]) * 1.2e-7;
    for (int64_t j = 0; j < v; ++j) {
      double want = 0;
      if (p.targets[t] >= 0)
        want = j == p.targets[t] ? -g * std::expm1(r.logp[t]) : -g * std::exp(p.z[t * v + j] - r.lse[t]);
      const double got = decode(buf2, dt, t * v + j);
      if (!close(got, want, at, rt)) {
        check(false, tag + (token_only ? "token-only " : "") + fmt("known-upstream grad", t * v + j, got, want));
        break;
      }
    }
  }
}

// Central differences of the float64 objective at random coordinates vs the kernel's fp32 backward.
void test_finite_difference() {
  Problem p = make_problem(6, 300, 3, false, DType::F32);
  Ref r = reference(p);
  std::vector<uint8_t> buf = encode(p.z, DType::F32), out(buf.size());
  std::vector<float> lse(p.n);
  for (int64_t t = 0; t < p.n; ++t) lse[t] = (float)r.lse[t];
  StepLogprobBackward b;
  b.logits = buf.data(); b.n = p.n; b.v = p.v; b.targets = p.targets.data(); b.step_index = p.steps.data();
  b.num_steps = p.num_steps; b.lse = lse.data(); b.grad_token = p.gtok.data(); b.grad_step = p.gstep.data(); b.dlogits = out.data();
  step_logprob_backward(b);
  for (int k = 0; k < 60; ++k) {
    const int64_t t = rng() % p.n, j = (k % 3 == 0 && p.targets[t] >= 0) ? p.targets[t] : (int64_t)(rng() % p.v);
    const double h = 1e-4, z0 = p.z[t * p.v + j];
    p.z[t * p.v + j] = z0 + h; const double up = ref_objective(p);
    p.z[t * p.v + j] = z0 - h; const double dn = ref_objective(p);
    p.z[t * p.v + j] = z0;
    const double fd = (up - dn) / (2 * h), got = decode(out, DType::F32, t * p.v + j);
    // The fp32 lse the kernel is given is off by up to half an ulp; at the target with p_t -> 1 that error,
    // |g| * |lse| * 6e-8, dominates the small 1 - p_t (see test_logits).
    const double g = p.targets[t] < 0 ? 0.0 : p.gtok[t] + (p.steps[t] >= 0 ? p.gstep[p.steps[t]] : 0.0);
    check(close(got, fd, 1e-7 + std::fabs(g) * std::fabs(r.lse[t]) * 1.2e-7, 1e-5),
          fmt("finite-difference dlogits", t * p.v + j, got, fd));
  }
}

// Every token ignored (also with v = 0): all outputs exactly 0, step sums 0, gradient rows 0.
void test_all_ignored() {
  for (int64_t v : {0, 3, 4100}) {
    const int64_t n = 5;
    std::vector<float> z(n * v, 1.5f), lse(n, 9), logp(n, 9), ent(n, 9), ss(3, 9);
    std::vector<int32_t> tg(n, -1), st(n, -1);
    std::vector<uint8_t> hit(n, 9);
    std::vector<float> g(n, 1.0f);
    for (bool exact : {false, true}) {
      StepLogprobForward f;
      f.logits = z.data(); f.n = n; f.v = v; f.targets = tg.data(); f.step_index = st.data(); f.num_steps = 3;
      f.token_logp = logp.data(); f.step_sum = ss.data(); f.lse = lse.data(); f.entropy = ent.data(); f.argmax_hit = hit.data(); f.exact = exact;
      step_logprob_forward(f);
      bool ok = true;
      for (int64_t t = 0; t < n; ++t) ok &= logp[t] == 0 && lse[t] == 0 && ent[t] == 0 && hit[t] == 0;
      for (float x : ss) ok &= x == 0;
      StepLogprobBackward b;
      b.logits = z.data(); b.n = n; b.v = v; b.targets = tg.data(); b.lse = lse.data(); b.grad_token = g.data();
      b.dlogits = z.data(); b.exact = exact;
      step_logprob_backward(b);
      for (float x : z) ok &= x == 0;
      check(ok, "all ignored v=" + std::to_string(v));
    }
  }
}

// A row of only -inf has no distribution: NaN logp, lse -inf (documented). NaN in a row gives NaN outputs.
// Neither may disturb the other rows.
void test_degenerate_rows() {
  const int64_t n = 3, v = 3000;
  const float ninf = -std::numeric_limits<float>::infinity();
  for (bool exact : {false, true}) {
    std::vector<float> z(n * v);
    for (auto& x : z) x = (float)(rng() % 1000) / 100.0f;
    for (int64_t j = 0; j < v; ++j) z[j] = ninf;
    z[v + 2500] = std::numeric_limits<float>::quiet_NaN();
    std::vector<int32_t> tg = {7, 8, 9};
    std::vector<float> logp(n), lse(n);
    StepLogprobForward f;
    f.logits = z.data(); f.n = n; f.v = v; f.targets = tg.data(); f.token_logp = logp.data(); f.lse = lse.data(); f.exact = exact;
    step_logprob_forward(f);
    check(std::isnan(logp[0]) && lse[0] == ninf, std::string("all -inf row ") + (exact ? "exact" : "fast"));
    check(std::isnan(logp[1]) && std::isnan(lse[1]), std::string("NaN row ") + (exact ? "exact" : "fast"));
    check(std::isfinite(logp[2]) && logp[2] < 0, std::string("row after NaN ") + (exact ? "exact" : "fast"));
  }
}

// The portable and AVX2 row kernels agree (same polynomial, different rounding order).
void test_ops_agree() {
  if (std::string(rows::row_ops().name) != "avx2") return;
  const rows::RowOps& P = rows::portable_ops();
  const rows::RowOps& A = rows::avx2_ops();
  std::normal_distribution<float> nd(0.0f, 4.0f);
  for (int64_t len : {1, 7, 8, 15, 16, 17, 100, 2048, 2053}) {
    std::vector<float> z(len), o1(len), o2(len);
    for (auto& x : z) x = (rng() % 10 == 0) ? -std::numeric_limits<float>::infinity() : nd(rng);
    rows::RowState s1, s2;
    rows::row_reset(s1); rows::row_reset(s2);
    P.segment(s1, z.data(), len, 0, true, true, nullptr, 0, nullptr);
    A.segment(s2, z.data(), len, 0, true, true, nullptr, 0, nullptr);
    check(s1.m == s2.m && s1.amax == s2.amax && close(s2.s, s1.s, 0, 1e-6) && close(s2.a, s1.a, 1e-6, 1e-5),
          "portable vs avx2 segment len=" + std::to_string(len));
    P.grad_f32(z.data(), o1.data(), len, 5.0f, 0.7f);
    A.grad_f32(z.data(), o2.data(), len, 5.0f, 0.7f);
    bool ok = true;
    for (int64_t j = 0; j < len; ++j) ok &= close(o2[j], o1[j], 1e-12, 1e-6);
    std::vector<uint16_t> b1(len), b2(len), hb(len);
    for (int64_t j = 0; j < len; ++j) hb[j] = f32_to_bf16(z[j]);
    P.grad_bf16(hb.data(), b1.data(), len, 5.0f, 0.7f);
    A.grad_bf16(hb.data(), b2.data(), len, 5.0f, 0.7f);
    for (int64_t j = 0; j < len; ++j) ok &= std::abs((int)b1[j] - (int)b2[j]) <= 1;  // at most 1 bf16 ulp apart
    // The segment's stored exps, and the scale ops.
    std::vector<float> e1(len), e2(len);
    rows::row_reset(s1); rows::row_reset(s2);
    P.segment(s1, z.data(), len, 0, false, false, nullptr, 0, e1.data());
    A.segment(s2, z.data(), len, 0, false, false, nullptr, 0, e2.data());
    for (int64_t j = 0; j < len; ++j) ok &= close(e2[j], e1[j], 1e-12, 1e-6);
    P.scale_f32(z.data(), o1.data(), len, -0.3f);
    A.scale_f32(z.data(), o2.data(), len, -0.3f);
    for (int64_t j = 0; j < len; ++j) ok &= std::memcmp(&o1[j], &o2[j], 4) == 0;
    P.scale_to_bf16(z.data(), b1.data(), len, 1.7f);
    A.scale_to_bf16(z.data(), b2.data(), len, 1.7f);
    ok &= b1 == b2;
    P.scale_bf16(hb.data(), b1.data(), len, -2.5f);
    A.scale_bf16(hb.data(), b2.data(), len, -2.5f);
    ok &= b1 == b2;
    P.widen(hb.data(), o1.data(), len);
    A.widen(hb.data(), o2.data(), len);
    for (int64_t j = 0; j < len; ++j) ok &= std::memcmp(&o1[j], &o2[j], 4) == 0;
    check(ok, "portable vs avx2 grad/widen/scale len=" + std::to_string(len));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = seed_rng();
  const int64_t shapes[][2] = {{0, 5}, {1, 1}, {3, 1}, {2, 2}, {5, 7}, {17, 31}, {9, 2047}, {6, 2048}, {7, 2049},
                               {40, 513}, {4, 5000}, {3, 33001}};
  for (auto& s : shapes)
    for (DType dt : {DType::F32, DType::BF16})
      for (bool exact : {false, true}) {
        test_logits(s[0], s[1], 4, dt, exact, true, false);
        test_logits(s[0], s[1], 1, dt, exact, false, false);
        test_logits(s[0], s[1], 0, dt, exact, true, true);
        test_fused(s[0], s[1], 3, dt, exact, true);
        test_fused(s[0], s[1], 1, dt, exact, false);
      }
  test_all_ignored();
  test_degenerate_rows();
  test_finite_difference();
  test_ops_agree();
  return finish("test_step_logprob", argc, argv, seed, rows::row_ops().name);
}
