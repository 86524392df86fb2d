// Shared by the step log-prob tests: random problems, bf16/fp32 encoding and the float64 reference.
// Header-only, included by exactly one translation unit per test executable.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/dtype.h"

using namespace stepwise;
namespace steptest {

int g_fail = 0, g_checks = 0;
std::mt19937_64 rng;
const double kInf = std::numeric_limits<double>::infinity();

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok && g_fail++ < 30) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
}
// |got - want| <= atol + rtol*|want|, with matching infinities and NaNs.
bool close(double got, double want, double atol, double rtol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}
std::string fmt(const char* tag, int64_t i, double got, double want) {
  char b[200];
  std::snprintf(b, sizeof b, "%s[%lld]: got %.9g want %.9g", tag, (long long)i, got, want);
  return b;
}

// ---- inputs ----
struct Problem {
  int64_t n = 0, v = 0, num_steps = 0;
  std::vector<double> z;  // logits as the kernel sees them (bf16-rounded when bf16)
  std::vector<int32_t> targets, steps;
  std::vector<float> gtok, gstep;
};

// Logits of a trained-LM scale: N(0, 3) with a heavy tail; some rows get special values.
Problem make_problem(int64_t n, int64_t v, int64_t num_steps, bool specials, DType dt) {
  Problem p;
  p.n = n, p.v = v, p.num_steps = num_steps;
  std::normal_distribution<double> nd(0.0, 3.0);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  p.z.resize(static_cast<size_t>(n * v));
  for (auto& x : p.z) x = nd(rng) * (ud(rng) < 0.01 ? 4.0 : 1.0);
  p.targets.resize(static_cast<size_t>(n));
  p.steps.resize(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    p.targets[t] = ud(rng) < 0.25 ? -1 : static_cast<int32_t>(rng() % v);
    // Steps: mostly contiguous runs with gaps (-1) and some steps never used.
    p.steps[t] = p.targets[t] < 0 || num_steps == 0 || ud(rng) < 0.1 ? -1 : static_cast<int32_t>((t * num_steps) / std::max<int64_t>(1, n) % num_steps);
    double* row = &p.z[t * v];
    if (specials && v >= 4) {
      const int kind = static_cast<int>(rng() % 8);
      if (kind == 0) for (int64_t j = 0; j < v; ++j) row[j] = (ud(rng) < 0.5 ? 1e4 : -1e4) + nd(rng);
      if (kind == 1) for (int64_t j = 0; j < v; ++j) if (ud(rng) < 0.3) row[j] = -kInf;
      if (kind == 2 && p.targets[t] >= 0) for (int64_t j = 0; j < v; ++j) if (j != p.targets[t]) row[j] = -kInf;
      if (kind == 3 && p.targets[t] >= 0) row[p.targets[t]] = -kInf;
      if (kind == 4) for (int64_t j = 0; j < v; ++j) row[j] = std::floor(ud(rng) * 4);  // ties for argmax
      if (kind == 5 && p.targets[t] >= 0) row[p.targets[t]] += 40;  // p_target -> 1
      if (kind == 6 && p.targets[t] >= 0) row[p.targets[t]] = *std::max_element(row, row + v) + 5.0;
    }
  }
  for (auto& x : p.z) x = dt == DType::F32 ? (double)(float)x : (double)bf16_to_f32(f32_to_bf16((float)x));
  std::normal_distribution<float> gd(0.0f, 1.0f);
  p.gtok.resize(static_cast<size_t>(n));
  for (auto& g : p.gtok) g = gd(rng);
  p.gstep.resize(static_cast<size_t>(num_steps));
  for (auto& g : p.gstep) g = gd(rng);
  return p;
}

std::vector<uint8_t> encode(const std::vector<double>& x, DType dt) {
  std::vector<uint8_t> out(x.size() * dtype_size(dt));
  for (size_t i = 0; i < x.size(); ++i) {
    if (dt == DType::F32) { float f = (float)x[i]; std::memcpy(&out[i * 4], &f, 4); }
    else { uint16_t h = f32_to_bf16((float)x[i]); std::memcpy(&out[i * 2], &h, 2); }
  }
  return out;
}
double decode(const std::vector<uint8_t>& b, DType dt, size_t i) {
  if (dt == DType::F32) { float f; std::memcpy(&f, &b[i * 4], 4); return f; }
  uint16_t h; std::memcpy(&h, &b[i * 2], 2); return bf16_to_f32(h);
}

// ---- float64 reference ----
struct Ref { std::vector<double> logp, lse, ent, step; std::vector<int> hit; };
Ref reference(const Problem& p) {
  Ref r;
  r.logp.assign(p.n, 0); r.lse.assign(p.n, 0); r.ent.assign(p.n, 0); r.hit.assign(p.n, 0); r.step.assign(p.num_steps, 0);
  for (int64_t t = 0; t < p.n; ++t) {
    if (p.targets[t] < 0) continue;
    const double* z = &p.z[t * p.v];
    double m = -kInf; int64_t am = 0;
    for (int64_t j = 0; j < p.v; ++j) if (z[j] > m) { m = z[j]; am = j; }
    if (m == -kInf) {  // a row of only -inf (rare, ~0.3^7 at v = 7): no distribution; the contract's values
      r.lse[t] = -kInf;
      r.logp[t] = r.ent[t] = std::numeric_limits<double>::quiet_NaN();
      r.hit[t] = am == p.targets[t];
      if (p.steps[t] >= 0) r.step[p.steps[t]] += r.logp[t];
      continue;
    }
    long double s = 0, sz = 0;
    for (int64_t j = 0; j < p.v; ++j) { long double e = std::exp((long double)(z[j] - m)); s += e; if (e > 0) sz += e * (z[j] - m); }
    r.lse[t] = m + (double)std::log(s);
    r.logp[t] = (z[p.targets[t]] - m) - (double)std::log(s);
    r.ent[t] = (double)(std::log(s) - sz / s);
    r.hit[t] = am == p.targets[t];
    if (p.steps[t] >= 0) r.step[p.steps[t]] += r.logp[t];
  }
  return r;
}
// d objective / d z_tj for objective = sum_t gtok_t logp_t + sum_s gstep_s step_s.
double ref_grad(const Problem& p, const Ref& r, int64_t t, int64_t j) {
  if (p.targets[t] < 0) return 0;
  const double g = p.gtok[t] + (p.steps[t] >= 0 ? p.gstep[p.steps[t]] : 0.0);
  if (j == p.targets[t]) return -g * std::expm1(r.logp[t]);
  return -g * std::exp(p.z[t * p.v + j] - r.lse[t]);
}
double ref_objective(const Problem& p) {
  Ref r = reference(p);
  double o = 0;
  for (int64_t t = 0; t < p.n; ++t) o += p.gtok[t] * r.logp[t];
  for (int64_t s = 0; s < p.num_steps; ++s) o += p.gstep[s] * r.step[s];
  return o;
}


// Seeds rng (clock, or STEPWISE_TEST_SEED) and returns the seed.
inline uint64_t seed_rng() {
  uint64_t seed = std::chrono::steady_clock::now().time_since_epoch().count();
  if (const char* s = std::getenv("STEPWISE_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  rng.seed(seed);
  return seed;
}

// Prints the tally and, in the parent run on the AVX2 kernels, runs this executable again with
// STEPWISE_PORTABLE_KERNELS=1 (read once per process, hence a child process). Returns the exit status.
inline int finish(const char* name, int argc, char** argv, uint64_t seed, const char* ops_name) {
  std::printf("%s: %d checks, %d failed (row ops %s, seed %llu)\n", name, g_checks, g_fail, ops_name,
              (unsigned long long)seed);
  if (g_fail) return 1;
  if ((argc > 1 && std::strcmp(argv[1], "--child") == 0) || std::strcmp(ops_name, "portable") == 0) return 0;
  std::fflush(stdout);
  const std::string cmd = "STEPWISE_PORTABLE_KERNELS=1 STEPWISE_TEST_SEED=" + std::to_string(seed + 1) + " '" +
                          argv[0] + "' --child";
  return std::system(cmd.c_str()) == 0 ? 0 : 1;
}

}  // namespace steptest
