// Tests of the CPU small kernels (b) reward_weights and (c) dpo_margin against long-double references,
// central finite differences of those references, and the hand-computed vectors of methods.md §12.
// A plain executable: prints every failure and exits non-zero if any check failed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"

using namespace stepwise;
using LD = long double;

static int g_failures = 0;
static int g_checks = 0;

static void check_close(const char* what, LD got, LD want, LD atol, LD rtol, long idx = -1) {
  ++g_checks;
  const LD err = std::fabs(got - want);
  if (!(err <= atol + rtol * std::fabs(want))) {  // written so that NaN fails
    if (++g_failures <= 30)
      std::printf("FAIL %s[%ld]: got %.9Lg want %.9Lg (err %.3Lg)\n", what, idx, got, want, err);
  }
}

static const float kPoison = std::numeric_limits<float>::quiet_NaN();

// ---- references (long double, textbook formulas written differently from the kernels) -------------------
static LD softplus(LD x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

struct PairIn {
  LD pc, pr, rc, rr, m;
};
static LD ref_loss(const PairIn& p, LD beta, LD eps, bool ipo) {
  const LD h = (p.pc - p.rc) - (p.pr - p.rr);
  if (ipo) return (h - 1 / (2 * beta)) * (h - 1 / (2 * beta));
  const LD z = beta * h - p.m;
  return (1 - eps) * softplus(-z) + eps * softplus(z);  // -log sigma(z) = softplus(-z)
}

static std::vector<LD> ref_softmax(const float* r, int64_t n, LD k) {
  std::vector<LD> w(n);
  LD m = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, k * r[i]);
  for (int64_t i = 0; i < n; ++i) s += (w[i] = std::exp(k * r[i] - m));
  for (auto& x : w) x /= s;
  return w;
}

// ---- (c) dpo_margin ---------------------------------------------------------------------------------------
static DpoReductions run_dpo(const std::vector<float>& pc, const std::vector<float>& pr, const std::vector<float>& rc,
                             const std::vector<float>& rr, const std::vector<float>* margin, float beta, float eps,
                             PreferenceLoss type, float scale, std::vector<float>& loss, std::vector<float>& gc,
                             std::vector<float>& gr) {
  const size_t n = pc.size();
  loss.assign(n, kPoison);
  gc.assign(n, kPoison);
  gr.assign(n, kPoison);
  DpoMarginArgs a;
  a.num_pairs = static_cast<int64_t>(n);
  a.policy_chosen = pc.data();
  a.policy_rejected = pr.data();
  a.ref_chosen = rc.data();
  a.ref_rejected = rr.data();
  a.margin = margin ? margin->data() : nullptr;
  a.beta = beta;
  a.label_smoothing = eps;
  a.loss_type = type;
  a.grad_scale = scale;
  a.loss = loss.data();
  a.grad_chosen = gc.data();
  a.grad_rejected = gr.data();
  return dpo_margin(a);
}

static void test_dpo_vectors() {
  // §12.1: h = 2, beta = 0.1: -log sigma(0.2) = 0.598139. §12.2 (SPPD): m = 1 * (0.934 - 0.258) = 0.676.
  std::vector<float> pc{-10}, pr{-12}, rc{-11}, rr{-11}, loss, gc, gr;
  DpoReductions r = run_dpo(pc, pr, rc, rr, nullptr, 0.1f, 0, PreferenceLoss::Sigmoid, 1, loss, gc, gr);
  check_close("12.1 loss", loss[0], 0.598139L, 1e-6L, 0);
  check_close("12.1 mean", r.mean_loss, 0.598139L, 1e-6L, 0);
  // grad wrt log pi(a_w) = -beta sigma(-0.2) (methods.md §1.3), and the opposite for the loser.
  const LD sig = 1 / (1 + std::exp(0.2L));
  check_close("12.1 grad_chosen", gc[0], -0.1L * sig, 1e-7L, 0);
  check_close("12.1 grad_rejected", gr[0], 0.1L * sig, 1e-7L, 0);
  check_close("12.1 accuracy", r.reward_accuracy, 1, 0, 0);
  check_close("12.1 chosen_reward", r.chosen_reward, 0.1L, 1e-7L, 0);
  check_close("12.1 rejected_reward", r.rejected_reward, -0.1L, 1e-7L, 0);
  check_close("12.1 margin", r.margin, 0.2L, 1e-7L, 0);
  std::vector<float> m{0.934f - 0.258f};
  r = run_dpo(pc, pr, rc, rr, &m, 0.1f, 0, PreferenceLoss::Sigmoid, 1, loss, gc, gr);
  check_close("12.2 loss", loss[0], 0.959206L, 1e-6L, 0);
  // Empty batch: every mean is 0, nothing is written.
  std::vector<float> e;
  r = run_dpo(e, e, e, e, nullptr, 0.1f, 0, PreferenceLoss::Sigmoid, 1, loss, gc, gr);
  check_close("empty mean_loss", r.mean_loss, 0, 0, 0);
}

// Random pairs, either moderate (token-sum log-probs of a few hundred) or extreme (|values| up to 1e4).
static void test_dpo_random(std::mt19937_64& rng, size_t n, bool extreme, bool ipo, float eps, bool with_margin) {
  std::uniform_real_distribution<float> lp(extreme ? -1e4f : -300.f, 0.f), mar(0.f, 1.f);
  std::vector<float> pc(n), pr(n), rc(n), rr(n), m(n), loss, gc, gr;
  for (size_t i = 0; i < n; ++i) {
    pc[i] = lp(rng);
    pr[i] = lp(rng);
    // The reference is near the policy for moderate pairs (as in training), independent for extreme ones.
    rc[i] = extreme ? lp(rng) : pc[i] + std::normal_distribution<float>(0, 5)(rng);
    rr[i] = extreme ? lp(rng) : pr[i] + std::normal_distribution<float>(0, 5)(rng);
    m[i] = mar(rng);
  }
  const float beta = extreme ? 0.5f : 0.1f, scale = 0.37f;
  const PreferenceLoss type = ipo ? PreferenceLoss::Ipo : PreferenceLoss::Sigmoid;
  const DpoReductions r = run_dpo(pc, pr, rc, rr, with_margin ? &m : nullptr, beta, eps, type, scale, loss, gc, gr);
  LD sl = 0, sacc = 0, sc = 0, sr = 0, sm = 0;
  for (size_t i = 0; i < n; ++i) {
    // The reference sees exactly the fp32 inputs the kernel saw.
    PairIn p{pc[i], pr[i], rc[i], rr[i], with_margin && !ipo ? LD(m[i]) : 0};
    const LD want = ref_loss(p, beta, eps, ipo);
    check_close("dpo loss", loss[i], want, 1e-6L, 2e-6L, (long)i);
    // Central differences of the long-double reference: the step is small against the curvature scale 1/beta.
    const LD d = 1e-4L;
    PairIn a = p, b = p;
    a.pc += d;
    b.pc -= d;
    const LD fd_c = (ref_loss(a, beta, eps, ipo) - ref_loss(b, beta, eps, ipo)) / (2 * d);
    a = p;
    b = p;
    a.pr += d;
    b.pr -= d;
    const LD fd_r = (ref_loss(a, beta, eps, ipo) - ref_loss(b, beta, eps, ipo)) / (2 * d);
    check_close("dpo grad_chosen (fd)", gc[i], scale * fd_c, 1e-6L, 1e-5L, (long)i);
    check_close("dpo grad_rejected (fd)", gr[i], scale * fd_r, 1e-6L, 1e-5L, (long)i);
    const LD hc = p.pc - p.rc, hr = p.pr - p.rr;
    sl += want;
    sacc += beta * hc > beta * hr;
    sc += beta * hc;
    sr += beta * hr;
    sm += beta * (hc - hr);
  }
  check_close("dpo mean_loss", r.mean_loss, sl / n, 1e-9L, 1e-9L);
  check_close("dpo accuracy", r.reward_accuracy, sacc / n, 1e-12L, 0);
  check_close("dpo chosen_reward", r.chosen_reward, sc / n, 1e-9L, 1e-9L);
  check_close("dpo rejected_reward", r.rejected_reward, sr / n, 1e-9L, 1e-9L);
  check_close("dpo margin", r.margin, sm / n, 1e-9L, 1e-9L);
  // Bitwise reproducible, including the threaded path for large n.
  std::vector<float> loss2, gc2, gr2;
  const DpoReductions r2 = run_dpo(pc, pr, rc, rr, with_margin ? &m : nullptr, beta, eps, type, scale, loss2, gc2, gr2);
  ++g_checks;
  if (std::memcmp(&r, &r2, sizeof r) != 0 || loss != loss2 || gc != gc2 || gr != gr2) {
    ++g_failures;
    std::printf("FAIL dpo_margin is not bitwise reproducible (n=%zu)\n", n);
  }
}

// ---- (b) reward_weights -------------------------------------------------------------------------------------
static void test_reward_vectors() {
  // §12.3 / 12.3b: one response, steps of 2 and 3 tokens with rewards 0.9, 0.2, gamma = 0.5, as winner
  // (scale +gamma) and as loser (scale -gamma); an empty segment in between must not disturb anything.
  std::vector<float> r{0.9f, 0.9f, 0.2f, 0.2f, 0.2f, 0.9f, 0.9f, 0.2f, 0.2f, 0.2f};
  std::vector<int64_t> off{0, 5, 5, 10};
  std::vector<float> scale{0.5f, 1.0f, -0.5f}, w(10, kPoison);
  RewardWeightsForward f;
  f.rewards = r.data();
  f.offsets = off.data();
  f.scale = scale.data();
  f.num_segments = 3;
  f.total = 10;
  f.weights = w.data();
  reward_weights_forward(f);
  const LD plus[5] = {0.243069L, 0.243069L, 0.171288L, 0.171288L, 0.171288L};
  const LD minus[5] = {0.159816L, 0.159816L, 0.226789L, 0.226789L, 0.226789L};
  for (int i = 0; i < 5; ++i) {
    check_close("12.3 alpha+", w[i], plus[i], 1e-6L, 0, i);
    check_close("12.3b alpha-", w[5 + i], minus[i], 1e-6L, 0, i);
  }
}

static void test_reward_random(std::mt19937_64& rng, int64_t segments, int max_len, float reward_range) {
  std::uniform_int_distribution<int> len(0, max_len);
  std::uniform_real_distribution<float> rew(-reward_range, reward_range), gam(0.1f, 2.f), gd(-1.f, 1.f);
  std::vector<int64_t> off{0};
  for (int64_t s = 0; s < segments; ++s) off.push_back(off.back() + len(rng));
  const int64_t total = off.back();
  std::vector<float> r(total), g(total), scale(segments), w(total, kPoison), gr(total, kPoison);
  for (auto& x : r) x = rew(rng);
  for (auto& x : g) x = gd(rng);
  for (int64_t s = 0; s < segments; ++s) scale[s] = (s % 2 ? -1.f : 1.f) * gam(rng);
  RewardWeightsForward f{r.data(), off.data(), scale.data(), segments, total, w.data()};
  reward_weights_forward(f);
  RewardWeightsBackward b{w.data(), g.data(), off.data(), scale.data(), segments, total, gr.data()};
  reward_weights_backward(b);
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t o = off[s], n = off[s + 1] - off[s];
    if (n == 0) continue;
    const LD k = scale[s];
    const std::vector<LD> want = ref_softmax(&r[o], n, k);
    LD sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      check_close("weights", w[o + i], want[i], 1e-7L, 1e-6L, (long)(o + i));
      sum += w[o + i];
    }
    check_close("weights sum", sum, 1, 1e-5L, 0, (long)s);
    // Finite differences of L(r) = sum_i g_i softmax(k r)_i, in long double, on a few elements per segment.
    for (int64_t j = 0; j < n && j < 4; ++j) {
      std::vector<float> rp(&r[o], &r[o] + n);
      const LD d = 1e-3L;
      auto L = [&](LD delta) {
        // Shift r_j by delta in long double (not via the fp32 array, which would round the step).
        std::vector<LD> x(n);
        LD m = -INFINITY, z = 0, acc = 0;
        for (int64_t i = 0; i < n; ++i) m = std::fmax(m, x[i] = k * (rp[i] + (i == j ? delta : 0)));
        for (int64_t i = 0; i < n; ++i) z += std::exp(x[i] - m);
        for (int64_t i = 0; i < n; ++i) acc += g[o + i] * std::exp(x[i] - m) / z;
        return acc;
      };
      const LD fd = (L(d) - L(-d)) / (2 * d);
      check_close("reward grad (fd)", gr[o + j], fd, 2e-6L, 1e-4L, (long)(o + j));
    }
  }
  // Bitwise reproducible.
  std::vector<float> w2(total, kPoison), gr2(total, kPoison);
  f.weights = w2.data();
  reward_weights_forward(f);
  b.grad_rewards = gr2.data();
  reward_weights_backward(b);
  ++g_checks;
  if (w != w2 || gr != gr2) {
    ++g_failures;
    std::printf("FAIL reward_weights is not bitwise reproducible\n");
  }
}

// Extreme rewards (|scale * r| up to 1e4): no NaN/Inf, weights sum to 1, the max gets (almost) all the mass.
static void test_reward_extreme() {
  std::vector<float> r{1e4f, -1e4f, 9999.f, 0.f};
  std::vector<int64_t> off{0, 4};
  std::vector<float> scale{1.f}, w(4, kPoison), g{0.3f, -0.2f, 0.1f, 0.5f}, gr(4, kPoison);
  RewardWeightsForward f{r.data(), off.data(), scale.data(), 1, 4, w.data()};
  reward_weights_forward(f);
  RewardWeightsBackward b{w.data(), g.data(), off.data(), scale.data(), 1, 4, gr.data()};
  reward_weights_backward(b);
  const LD e = std::exp(-1.0L);
  check_close("extreme w0", w[0], 1 / (1 + e), 1e-7L, 1e-6L);
  check_close("extreme w2", w[2], e / (1 + e), 1e-7L, 1e-6L);
  check_close("extreme w1", w[1], 0, 1e-30L, 0);
  for (int i = 0; i < 4; ++i) check_close("extreme grad finite", std::isfinite(gr[i]) ? 0 : 1, 0, 0, 0, i);
}

int main() {
  std::mt19937_64 rng(0x5eed5eedULL ^ static_cast<uint64_t>(std::random_device{}()));
  test_dpo_vectors();
  for (int rep = 0; rep < 3; ++rep) {
    test_dpo_random(rng, 1000, false, false, 0.0f, false);
    test_dpo_random(rng, 1000, false, false, 0.1f, true);
    test_dpo_random(rng, 1000, false, true, 0.0f, false);
    test_dpo_random(rng, 1000, true, false, 0.0f, true);
    test_dpo_random(rng, 1000, true, false, 0.25f, false);
  }
  test_dpo_random(rng, 70000, false, false, 0.05f, true);  // threaded path
  test_reward_vectors();
  test_reward_extreme();
  for (int rep = 0; rep < 3; ++rep) {
    test_reward_random(rng, 200, 40, 1.f);
    test_reward_random(rng, 50, 300, 20.f);
  }
  test_reward_random(rng, 3000, 60, 1.f);  // > 65536 elements: threaded path
  std::printf("test_small_kernels: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
