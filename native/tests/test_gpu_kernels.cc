// Tests of the CUDA kernels (native/gpu/gpu.h) against float64 references computed here from the very
// values the device sees (bf16 inputs are rounded first), against the CPU small kernels, and run twice for
// bitwise reproducibility. Without a usable device (CPU-only build, or no driver) it checks that GPU calls
// throw std::runtime_error instead of aborting, prints SKIP and exits 0.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "gpu/gpu.h"
#include "kernels/kernels.h"

using namespace stepwise;
static int g_fail = 0, g_checks = 0;
static std::mt19937_64 rng(0xC0FFEEULL ^ static_cast<uint64_t>(std::random_device{}()));

static void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok && ++g_fail <= 40) std::printf("FAIL %s\n", what.c_str());
}
static void check_close(const char* what, double got, double want, double atol, double rtol, long i = -1) {
  const double err = std::fabs(got - want);
  ++g_checks;
  if (!(err <= atol + rtol * std::fabs(want)) && ++g_fail <= 40)
    std::printf("FAIL %s[%ld]: got %.9g want %.9g\n", what, i, got, want);
}
// ||got - ref|| / ||ref|| (kernels.md §3: the accuracy measure for whole tensors).
static void rel_norm(const char* what, const std::vector<float>& got, const std::vector<double>& ref, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += (got[i] - ref[i]) * (got[i] - ref[i]), den += ref[i] * ref[i];
  const double r = std::sqrt(num / (den > 0 ? den : 1));
  ++g_checks;
  if (!(r <= tol) && ++g_fail <= 40) std::printf("FAIL %s: relative error %.3g > %.3g\n", what, r, tol);
}

// Device buffer holding a host vector; outputs are poisoned with NaN bytes before every call.
template <class T>
struct Dev {
  void* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    p = gpu::alloc(std::max<size_t>(1, n * sizeof(T)));
    gpu::copy_to_device(p, h.data(), n * sizeof(T));
  }
  explicit Dev(size_t count) : n(count) {
    p = gpu::alloc(std::max<size_t>(1, n * sizeof(T)));
    poison();
  }
  ~Dev() { gpu::free(p); }
  void poison() {
    std::vector<unsigned char> bad(n * sizeof(T), 0xFF);  // NaN for fp32 and bf16
    gpu::copy_to_device(p, bad.data(), bad.size());
  }
  std::vector<T> get() const {
    std::vector<T> h(n);
    gpu::copy_to_host(h.data(), p, n * sizeof(T));
    return h;
  }
  T* ptr() const { return static_cast<T*>(p); }
};

// Random values (default sigma 3: LM-like logits) stored as fp32 or bf16 bits; `vals` gets the exact values.
static std::vector<uint32_t> make_logits(int64_t n, int64_t v, DType dt, std::vector<double>& vals, float sigma = 3.f) {
  std::normal_distribution<float> nd(0.f, sigma);
  std::vector<uint32_t> words((n * v * dtype_size(dt) + 3) / 4, 0);
  vals.resize(n * v);
  for (int64_t i = 0; i < n * v; ++i) {
    float x = nd(rng);
    if (dt == DType::BF16) {
      const uint16_t h = f32_to_bf16(x);
      std::memcpy(reinterpret_cast<char*>(words.data()) + 2 * i, &h, 2);
      x = bf16_to_f32(h);
    } else {
      std::memcpy(reinterpret_cast<char*>(words.data()) + 4 * i, &x, 4);
    }
    vals[i] = x;
  }
  return words;
}

struct RowRef {
  double logp, lse, entropy;
  int hit;
};
static RowRef ref_row(const double* z, int64_t v, int target) {
  double m = -INFINITY, s = 0, pz = 0;
  int64_t am = 0;
  for (int64_t j = 0; j < v; ++j)
    if (z[j] > m) m = z[j], am = j;
  for (int64_t j = 0; j < v; ++j) s += std::exp(z[j] - m);
  const double lse = m + std::log(s);
  for (int64_t j = 0; j < v; ++j) pz += std::exp(z[j] - lse) * z[j];
  return {z[target] - lse, lse, lse - pz, am == target ? 1 : 0};
}

// Targets (about a third ignored), non-contiguous step indices with -1s, as a DPO batch would have.
static void make_tokens(int64_t n, int64_t v, int64_t steps, std::vector<int32_t>& tg, std::vector<int32_t>& st) {
  tg.resize(n), st.resize(n);
  for (int64_t t = 0; t < n; ++t) {
    const bool ignored = rng() % 3 == 0;
    tg[t] = ignored ? -100 : static_cast<int32_t>(rng() % v);
    st[t] = ignored || rng() % 5 == 0 ? -1 : static_cast<int32_t>(rng() % steps);
  }
}

// count fp32 or bf16 values stored in `words` (the device buffers hold 32-bit words), as floats.
static std::vector<float> decode_words(const std::vector<uint32_t>& words, int64_t count, DType dt) {
  std::vector<float> got(count);
  for (int64_t i = 0; i < count; ++i) {
    if (dt == DType::BF16) {
      uint16_t h;
      std::memcpy(&h, reinterpret_cast<const char*>(words.data()) + 2 * i, 2);
      got[i] = bf16_to_f32(h);
    } else {
      std::memcpy(&got[i], reinterpret_cast<const char*>(words.data()) + 4 * i, 4);
    }
  }
  return got;
}

static void test_logits(int64_t n, int64_t v, DType dt, bool exact) {
  const int64_t steps = 7;
  std::vector<double> z;
  const std::vector<uint32_t> words = make_logits(n, v, dt, z);
  std::vector<int32_t> tg, st;
  make_tokens(n, v, steps, tg, st);
  std::vector<float> gtok(n), gstep(steps);
  for (auto& g : gtok) g = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (auto& g : gstep) g = std::uniform_real_distribution<float>(-1, 1)(rng);
  Dev<uint32_t> dz(words);
  Dev<int32_t> dtg(tg), dst(st);
  Dev<float> logp(n), lse(n), ent(n), ssum(steps), dgt(gtok), dgs(gstep);
  Dev<uint8_t> hit(n);
  StepLogprobForward f;
  f.logits = dz.p, f.dtype = dt, f.n = n, f.v = v, f.targets = dtg.ptr(), f.step_index = dst.ptr();
  f.num_steps = steps, f.token_logp = logp.ptr(), f.step_sum = ssum.ptr(), f.lse = lse.ptr();
  f.entropy = ent.ptr(), f.argmax_hit = hit.ptr(), f.exact = exact;
  gpu::step_logprob_forward(f);
  const auto lp = logp.get(), ls = lse.get(), en = ent.get(), ss = ssum.get();
  const auto hh = hit.get();
  std::vector<double> ref_ss(steps, 0.0), ref_lse(n, 0.0);
  const double tol = exact ? 2e-5 : 1e-4;
  for (int64_t t = 0; t < n; ++t) {
    if (tg[t] < 0) {
      expect(lp[t] == 0 && ls[t] == 0 && en[t] == 0 && hh[t] == 0, "ignored token outputs are 0");
      continue;
    }
    const RowRef r = ref_row(&z[t * v], v, tg[t]);
    ref_lse[t] = r.lse;
    check_close("token_logp", lp[t], r.logp, tol, 0, t);
    check_close("lse", ls[t], r.lse, tol, 0, t);
    check_close("entropy", en[t], r.entropy, tol, 1e-5, t);
    expect(hh[t] == r.hit, "argmax_hit row " + std::to_string(t));
    if (st[t] >= 0) ref_ss[st[t]] += r.logp;
  }
  for (int64_t s = 0; s < steps; ++s) check_close("step_sum", ss[s], ref_ss[s], tol * 20, 1e-6, s);
  gpu::step_logprob_forward(f);  // bitwise reproducible
  expect(logp.get() == lp && ssum.get() == ss && ent.get() == en, "forward reproducible");

  // float64 dlogits = g_t * (onehot - softmax), for the backward and the fused path.
  std::vector<double> ref_dz(n * v, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    if (tg[t] < 0) continue;
    const double g = gtok[t] + (st[t] >= 0 ? gstep[st[t]] : 0.0);
    for (int64_t j = 0; j < v; ++j) ref_dz[t * v + j] = g * ((j == tg[t]) - std::exp(z[t * v + j] - ref_lse[t]));
  }

  // Backward, out of place and then in place on a copy of the logits.
  for (int inplace = 0; inplace < 2; ++inplace) {
    Dev<uint32_t> dl(words.size());
    Dev<uint32_t> zc(words);
    StepLogprobBackward b;
    b.logits = inplace ? zc.p : dz.p, b.dtype = dt, b.n = n, b.v = v, b.targets = dtg.ptr();
    b.step_index = dst.ptr(), b.num_steps = steps, b.lse = lse.ptr(), b.grad_token = dgt.ptr();
    b.grad_step = dgs.ptr(), b.dlogits = inplace ? zc.p : dl.p, b.exact = exact;
    gpu::step_logprob_backward(b);
    const std::vector<float> got = decode_words(inplace ? zc.get() : dl.get(), n * v, dt);
    bool zeros = true;
    for (int64_t t = 0; t < n; ++t)
      if (tg[t] < 0)
        for (int64_t j = 0; j < v; ++j) zeros &= got[t * v + j] == 0.f;
    expect(zeros, "ignored rows have zero gradient");
    rel_norm(inplace ? "dlogits (in place)" : "dlogits", got, ref_dz, dt == DType::BF16 ? 1e-2 : 1e-4);
  }

  // The fused forward + gradient (kernels.h (a+)), in place on a copy: unscaled, then scaled on the device,
  // and with the upstream gradient given up front. Forward outputs must equal the forward's bitwise.
  for (int known = 0; known < 2; ++known) {
    Dev<uint32_t> zc(words);
    Dev<float> logp2(n), lse2(n), ssum2(steps);
    StepLogprobForward f2 = f;
    f2.logits = zc.p, f2.token_logp = logp2.ptr(), f2.lse = lse2.ptr(), f2.step_sum = ssum2.ptr();
    f2.entropy = nullptr, f2.argmax_hit = nullptr;
    gpu::step_logprob_forward_grad(f2, zc.p, known ? dgt.ptr() : nullptr, known ? dgs.ptr() : nullptr);
    expect(logp2.get() == lp && lse2.get() == ls && ssum2.get() == ss, "fused forward outputs equal the forward's");
    if (!known) {
      std::vector<double> ref(n * v, 0.0);
      for (int64_t t = 0; t < n; ++t)
        if (tg[t] >= 0)
          for (int64_t j = 0; j < v; ++j) ref[t * v + j] = std::exp(z[t * v + j] - ref_lse[t]) - (j == tg[t]);
      rel_norm("fused unscaled grad", decode_words(zc.get(), n * v, dt), ref, dt == DType::BF16 ? 1e-2 : 1e-4);
      StepLogprobGradScale sc;
      sc.grad = zc.p, sc.dtype = dt, sc.n = n, sc.v = v, sc.targets = dtg.ptr(), sc.step_index = dst.ptr();
      sc.num_steps = steps, sc.grad_token = dgt.ptr(), sc.grad_step = dgs.ptr();
      gpu::step_logprob_grad_scale(sc);
    }
    rel_norm(known ? "fused grad, upstream known" : "fused grad, then scaled", decode_words(zc.get(), n * v, dt), ref_dz,
             dt == DType::BF16 ? 2e-2 : 1e-4);
  }
}

static void test_small() {
  // reward_weights and dpo_margin against the CPU implementations (themselves tested against float64).
  std::vector<int64_t> off{0};
  for (int s = 0; s < 300; ++s) off.push_back(off.back() + static_cast<int64_t>(rng() % 70));  // empties too
  const int64_t segs = 300, total = off.back();
  std::vector<float> r(total), g(total), sc(segs), w_cpu(total), gr_cpu(total);
  for (auto& x : r) x = std::uniform_real_distribution<float>(0, 1)(rng);
  for (auto& x : g) x = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (int64_t s = 0; s < segs; ++s) sc[s] = (s % 2 ? -0.5f : 0.5f) * (1 + s % 4);
  reward_weights_forward({r.data(), off.data(), sc.data(), segs, total, w_cpu.data()});
  reward_weights_backward({w_cpu.data(), g.data(), off.data(), sc.data(), segs, total, gr_cpu.data()});
  Dev<float> dr(r), dg(g), dsc(sc), dw(total), dgr(total);
  Dev<int64_t> doff(off);
  gpu::reward_weights_forward({dr.ptr(), doff.ptr(), dsc.ptr(), segs, total, dw.ptr()});
  gpu::reward_weights_backward({dw.ptr(), dg.ptr(), doff.ptr(), dsc.ptr(), segs, total, dgr.ptr()});
  const auto w = dw.get(), gr = dgr.get();
  for (int64_t i = 0; i < total; ++i) {
    check_close("gpu reward weight", w[i], w_cpu[i], 1e-7, 1e-6, i);
    check_close("gpu reward grad", gr[i], gr_cpu[i], 1e-7, 1e-5, i);
  }

  const int64_t P = 5000;
  std::vector<float> pc(P), pr(P), rc(P), rr(P), m(P), l1(P), gc1(P), gr1(P);
  std::uniform_real_distribution<float> lp(-400, 0);
  for (int64_t i = 0; i < P; ++i) pc[i] = lp(rng), pr[i] = lp(rng), rc[i] = pc[i] + lp(rng) / 40, rr[i] = pr[i] + lp(rng) / 40, m[i] = lp(rng) / -400;
  for (int type = 0; type < 2; ++type) {
    DpoMarginArgs a;
    a.num_pairs = P, a.policy_chosen = pc.data(), a.policy_rejected = pr.data(), a.ref_chosen = rc.data();
    a.ref_rejected = rr.data(), a.margin = m.data(), a.beta = 0.1f, a.label_smoothing = 0.1f;
    a.loss_type = type ? PreferenceLoss::Ipo : PreferenceLoss::Sigmoid, a.grad_scale = 0.5f;
    a.loss = l1.data(), a.grad_chosen = gc1.data(), a.grad_rejected = gr1.data();
    const DpoReductions rc_cpu = dpo_margin(a);
    Dev<float> d_pc(pc), d_pr(pr), d_rc(rc), d_rr(rr), d_m(m), d_l(P), d_gc(P), d_gr(P);
    a.policy_chosen = d_pc.ptr(), a.policy_rejected = d_pr.ptr(), a.ref_chosen = d_rc.ptr();
    a.ref_rejected = d_rr.ptr(), a.margin = d_m.ptr(), a.loss = d_l.ptr(), a.grad_chosen = d_gc.ptr();
    a.grad_rejected = d_gr.ptr();
    const DpoReductions rg = gpu::dpo_margin(a);
    const auto l = d_l.get(), gc = d_gc.get(), grr = d_gr.get();
    for (int64_t i = 0; i < P; ++i) {
      check_close("gpu dpo loss", l[i], l1[i], 1e-6, 1e-6, i);
      check_close("gpu dpo grad_chosen", gc[i], gc1[i], 1e-7, 1e-6, i);
      check_close("gpu dpo grad_rejected", grr[i], gr1[i], 1e-7, 1e-6, i);
    }
    check_close("gpu dpo mean_loss", rg.mean_loss, rc_cpu.mean_loss, 1e-9, 1e-9);
    check_close("gpu dpo accuracy", rg.reward_accuracy, rc_cpu.reward_accuracy, 0, 0);
    check_close("gpu dpo chosen", rg.chosen_reward, rc_cpu.chosen_reward, 1e-9, 1e-9);
    check_close("gpu dpo rejected", rg.rejected_reward, rc_cpu.rejected_reward, 1e-9, 1e-9);
    check_close("gpu dpo margin", rg.margin, rc_cpu.margin, 1e-9, 1e-9);
    const DpoReductions rg2 = gpu::dpo_margin(a);
    expect(std::memcmp(&rg, &rg2, sizeof rg) == 0 && d_l.get() == l, "dpo_margin reproducible");
  }
}

static void test_hidden(int64_t n, int64_t d, int64_t v, DType dt, int64_t chunk) {
  const int64_t steps = 5;
  std::vector<double> x, w;
  // Hidden states ~ N(0, 1) and W scaled so the logits have sigma ~ 3 (kernels.md §3, realistic data).
  const std::vector<uint32_t> xw = make_logits(n, d, dt, x, 1.f),
                              ww = make_logits(v, d, dt, w, 3.f / std::sqrt(static_cast<float>(d)));
  std::vector<int32_t> tg, st;
  make_tokens(n, v, steps, tg, st);
  std::vector<float> gtok(n), gstep(steps), dw0(v * d);
  for (auto& g : gtok) g = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (auto& g : gstep) g = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (auto& g : dw0) g = std::uniform_real_distribution<float>(-1, 1)(rng);
  Dev<uint32_t> dx(xw), dwt(ww);
  Dev<int32_t> dtg(tg), dst(st);
  Dev<float> logp(n), lse(n), ent(n), ssum(steps), dgt(gtok), dgs(gstep), dh(n * d), dW(dw0);
  Dev<uint8_t> hit(n);
  StepLogprobHiddenForward f;
  f.hidden = dx.p, f.weight = dwt.p, f.dtype = dt, f.n = n, f.d = d, f.v = v, f.targets = dtg.ptr();
  f.step_index = dst.ptr(), f.num_steps = steps, f.token_logp = logp.ptr(), f.step_sum = ssum.ptr();
  f.lse = lse.ptr(), f.entropy = ent.ptr(), f.argmax_hit = hit.ptr(), f.chunk_rows = chunk;
  gpu::step_logprob_hidden_forward(f);
  // float64 reference logits and gradients.
  std::vector<double> z(n * v), dzr(n * v, 0.0), dh_ref(n * d, 0.0), dw_ref(v * d);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < v; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < d; ++k) acc += x[t * d + k] * w[j * d + k];
      z[t * v + j] = acc;
    }
  const auto lp = logp.get(), ls = lse.get(), en = ent.get(), ss = ssum.get();
  std::vector<double> ref_ss(steps, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    if (tg[t] < 0) {
      expect(lp[t] == 0 && ls[t] == 0, "hidden: ignored token outputs are 0");
      continue;
    }
    const RowRef r = ref_row(&z[t * v], v, tg[t]);
    const double tol = 1e-4 * (1 + std::fabs(r.lse));  // fp32 GEMM over d terms
    check_close("hidden token_logp", lp[t], r.logp, tol, 1e-5, t);
    check_close("hidden lse", ls[t], r.lse, tol, 1e-5, t);
    check_close("hidden entropy", en[t], r.entropy, tol, 1e-4, t);
    if (st[t] >= 0) ref_ss[st[t]] += r.logp;
    const double g = gtok[t] + (st[t] >= 0 ? gstep[st[t]] : 0.0);
    for (int64_t j = 0; j < v; ++j) dzr[t * v + j] = g * ((j == tg[t]) - std::exp(z[t * v + j] - r.lse));
  }
  for (int64_t s = 0; s < steps; ++s) check_close("hidden step_sum", ss[s], ref_ss[s], 1e-3, 1e-5, s);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < v; ++j) {
      const double gz = dzr[t * v + j];
      if (gz == 0) continue;
      for (int64_t k = 0; k < d; ++k) dh_ref[t * d + k] += gz * w[j * d + k];
    }
  for (int64_t j = 0; j < v; ++j)
    for (int64_t k = 0; k < d; ++k) {
      double acc = dw0[j * d + k];  // accumulate_dweight = true
      for (int64_t t = 0; t < n; ++t) acc += dzr[t * v + j] * x[t * d + k];
      dw_ref[j * d + k] = acc;
    }
  StepLogprobHiddenBackward b;
  b.hidden = dx.p, b.weight = dwt.p, b.dtype = dt, b.n = n, b.d = d, b.v = v, b.targets = dtg.ptr();
  b.step_index = dst.ptr(), b.num_steps = steps, b.lse = lse.ptr(), b.grad_token = dgt.ptr();
  b.grad_step = dgs.ptr(), b.dhidden = dh.ptr(), b.dweight = dW.ptr(), b.accumulate_dweight = true;
  b.chunk_rows = chunk;
  gpu::step_logprob_hidden_backward(b);
  const double gt = dt == DType::BF16 ? 1e-2 : 1e-4;
  rel_norm("hidden dhidden", dh.get(), dh_ref, gt);
  rel_norm("hidden dweight (accumulated)", dW.get(), dw_ref, gt);
}

int main() {
  std::string why;
  if (!gpu::available(&why)) {
    bool threw = false;
    try {
      gpu::alloc(16);
    } catch (const std::runtime_error& e) {
      threw = true;
      std::printf("gpu::alloc without a device throws: %s\n", e.what());
    }
    expect(threw, "GPU calls throw std::runtime_error when no device is usable");
    std::printf("SKIP test_gpu_kernels: %s (%d checks, %d failures)\n", why.c_str(), g_checks, g_fail);
    return g_fail == 0 ? 0 : 1;
  }
  std::printf("device: %s\n", gpu::device_name(0).c_str());
  for (DType dt : {DType::F32, DType::BF16})
    for (bool exact : {true, false}) {
      test_logits(37, 1003, dt, exact);   // odd V: rows at every 16-byte phase (head/tail paths)
      test_logits(19, 32000, dt, exact);  // a real vocabulary: many vectors per thread
    }
  test_small();
  for (DType dt : {DType::F32, DType::BF16}) {
    test_hidden(45, 72, 517, dt, 16);  // several chunks, partial GEMM tiles
    test_hidden(30, 40, 300, dt, 0);   // automatic chunking
  }
  std::printf("test_gpu_kernels: %d checks, %d failures\n", g_checks, g_fail);
  return g_fail == 0 ? 0 : 1;
}
