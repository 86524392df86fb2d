// Raw exports for the step log-prob kernels of kernels.h / gpu.h (reward weighting and the DPO margin are in
// losses_binding.cc). Each takes one options object (see args.h), validates
// types, lengths and index ranges on the JS thread, allocates host outputs there, and runs the kernel either
// now (`name`) or on the libuv pool (`nameAsync`, a Promise). Value checks that cost a pass over the data
// (NaN/+Inf in logits, non-finite rewards) run inside the job and surface as RangeError.
// A call whose options have location: "device" takes DeviceTensors everywhere and runs the gpu:: kernels.
// The typed TypeScript API in packages/native/src/kernels.ts is the intended caller; this layer exists so that
// no raw call, however wrong, can crash the process.
#include <cmath>
#include <limits>
#include <memory>

#include "args.h"
#include "gpu/gpu.h"
#include "kernels/kernels.h"
#include "dispatch.h"
#include "registry.h"
#include "workers.h"

namespace stepwise::napi {
namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxElems = int64_t{1} << 52;  // any typed array length fits; keeps n*v exact in a double

// n*v without overflow: sizes beyond 2^52 elements cannot match any typed array anyway.
int64_t product(const Args& args, const char* what, int64_t a, int64_t b) {
  if (a != 0 && b > kMaxElems / a) args.range_error(what, "the product of the sizes is too large");
  return a * b;
}

// ---- (a) step log-prob from logits -------------------------------------------------------------------
struct LogitsShape {
  int64_t n, v, num_steps;
  DType dtype;
  Array logits, targets, steps;
};

// `rows` names the [n, v] array: "logits", or "grad" for stepLogprobGradScale.
LogitsShape parse_logits(Args& args, const char* rows = "logits") {
  LogitsShape s;
  s.dtype = args.dtype_or("dtype");
  s.v = args.integer("v", 1, kMaxInt32);
  s.n = args.integer("n", 0, kMaxInt32);
  s.num_steps = args.integer_or("numSteps", 0, kMaxInt32, 0);
  s.logits = args.input(rows, Kind::Float, product(args, rows, s.n, s.v), false, s.dtype);
  s.targets = args.input("targets", Kind::I32, s.n);
  s.steps = args.input("stepIndex", Kind::I32, s.n, /*optional=*/true);
  if (s.num_steps > 0 && !s.steps.present)
    args.range_error("stepIndex", "expected an Int32Array of length n when numSteps > 0");
  check_targets(args, s.targets, s.steps, s.n, s.v, s.num_steps);
  return s;
}

// The shape fields every [n, v] row kernel struct shares (everything but the rows' own pointer).
template <typename K>
void fill_row_shape(K& k, const LogitsShape& s) {
  k.dtype = s.dtype;
  k.n = s.n;
  k.v = s.v;
  k.targets = static_cast<const int32_t*>(s.targets.data);
  k.step_index = static_cast<const int32_t*>(s.steps.data);
  k.num_steps = s.num_steps;
}

// ... and the logits pointer of the kernels that read logits.
template <typename K>
void fill_logits_shape(K& k, const LogitsShape& s) {
  k.logits = s.logits.data;
  fill_row_shape(k, s);
}

// The forward's arguments (stepLogprobForward and the fused stepLogprobForwardGrad): shape, `exact`, and the
// outputs, entropy and argmax hits only when asked for.
StepLogprobForward forward_args(Args& args, const LogitsShape& s) {
  StepLogprobForward k;
  fill_logits_shape(k, s);
  k.exact = args.boolean_or("exact", false);
  k.token_logp = static_cast<float*>(args.output("tokenLogp", Kind::F32, s.n).data);
  k.step_sum = static_cast<float*>(args.output("stepSum", Kind::F32, s.num_steps).data);
  k.lse = static_cast<float*>(args.output("lse", Kind::F32, s.n).data);
  if (args.boolean_or("wantEntropy", false)) k.entropy = static_cast<float*>(args.output("entropy", Kind::F32, s.n).data);
  if (args.boolean_or("wantArgmaxHit", false))
    k.argmax_hit = static_cast<uint8_t*>(args.output("argmaxHit", Kind::U8, s.n).data);
  return k;
}

Napi::Value StepLogprobForwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobForwardAsync" : "stepLogprobForward");
  LogitsShape s = parse_logits(args);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  StepLogprobForward k = forward_args(args, s);
  const void* host_targets = s.targets.check;
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, host_targets, device, dev]() {
    if (device) {
      gpu::set_device(dev);
      gpu::step_logprob_forward(k);
    } else {
      step_logprob_forward(k);
      // Bad logits (NaN, +Infinity, an all -Infinity row) show in lse: an O(n) check instead of a scan of n*v.
      if (check) check_forward_rows("logits", k.logits, k.dtype, k.n, k.v, static_cast<const int32_t*>(host_targets), k.lse);
    }
  };
  return run_job(args, std::move(job), async);
}

Napi::Value StepLogprobBackwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobBackwardAsync" : "stepLogprobBackward");
  LogitsShape s = parse_logits(args);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  StepLogprobBackward k;
  fill_logits_shape(k, s);
  k.exact = args.boolean_or("exact", false);
  k.lse = static_cast<const float*>(args.input("lse", Kind::F32, s.n).data);
  Array gt = args.input("gradToken", Kind::F32, s.n, true);
  Array gs = args.input("gradStep", Kind::F32, s.num_steps, true);
  k.grad_token = static_cast<const float*>(gt.data);
  k.grad_step = static_cast<const float*>(gs.data);
  if (args.boolean_or("inPlace", false)) {
    k.dlogits = s.logits.data;  // the kernel supports dlogits == logits (kernels.h)
    args.result().Set("dlogits", args.object().Get("logits"));
  } else {
    k.dlogits = args.output("dlogits", Kind::Float, s.n * s.v, s.dtype).data;
  }
  const void* host_targets = s.targets.check;
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, host_targets, device, dev]() {
    if (check) {
      check_logits_values("logits", k.logits, k.dtype, k.n, k.v, static_cast<const int32_t*>(host_targets));
      check_backward_upstream(k);
    }
    run_on(device, dev, &step_logprob_backward, &gpu::step_logprob_backward, k);
  };
  return run_job(args, std::move(job), async);
}

// The fused forward + gradient (kernels.h (a+)): the forward's options and outputs, plus `grad` (the logits
// themselves with inPlace: true) and, optionally, upstream gradients known before the forward.
Napi::Value StepLogprobForwardGradB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobForwardGradAsync" : "stepLogprobForwardGrad");
  LogitsShape s = parse_logits(args);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  StepLogprobForward k = forward_args(args, s);
  Array gt = args.input("gradToken", Kind::F32, s.n, true);
  Array gs = args.input("gradStep", Kind::F32, s.num_steps, true);
  const float* grad_token = static_cast<const float*>(gt.data);
  const float* grad_step = static_cast<const float*>(gs.data);
  // A given but empty array (n = 0, or numSteps = 0) still means "the upstream gradient is known" (and zero):
  // point at a dummy, never read (no token has a step when numSteps = 0), so the kernel does not take the
  // unscaled path meant for "no upstream given".
  static const float kNothing = 0.0f;
  if (gt.present && !grad_token) grad_token = &kNothing;
  if (gs.present && !grad_step) grad_step = &kNothing;
  const bool in_place = args.boolean_or("inPlace", false);
  void* grad;
  if (in_place) {
    grad = s.logits.data;
    args.result().Set("grad", args.object().Get("logits"));
  } else {
    grad = args.output("grad", Kind::Float, s.n * s.v, s.dtype).data;
  }
  const void* host_targets = s.targets.check;
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, grad, grad_token, grad_step, check, in_place, host_targets, device, dev]() {
    const int32_t* tg = static_cast<const int32_t*>(host_targets);
    if (device) {
      gpu::set_device(dev);
      gpu::step_logprob_forward_grad(k, grad, grad_token, grad_step);
      return;
    }
    if (check) {
      check_upstream_gradients(grad_token, grad_step, k.n, k.num_steps);
      // In place, the logits are gone after the kernel, so bad values are found by a scan before it.
      if (in_place) check_logits_values("logits", k.logits, k.dtype, k.n, k.v, tg);
    }
    step_logprob_forward_grad(k, grad, grad_token, grad_step);
    if (check && !in_place) check_forward_rows("logits", k.logits, k.dtype, k.n, k.v, tg, k.lse);
  };
  return run_job(args, std::move(job), async);
}

// grad[t, :] *= -g_t in place: turns the unscaled gradient of stepLogprobForwardGrad into dlogits.
Napi::Value StepLogprobGradScaleB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobGradScaleAsync" : "stepLogprobGradScale");
  const LogitsShape s = parse_logits(args, "grad");
  StepLogprobGradScale k;
  k.grad = s.logits.data;
  fill_row_shape(k, s);
  k.grad_token = static_cast<const float*>(args.input("gradToken", Kind::F32, k.n, true).data);
  k.grad_step = static_cast<const float*>(args.input("gradStep", Kind::F32, k.num_steps, true).data);
  args.result().Set("dlogits", args.object().Get("grad"));
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, device, dev]() {
    if (check) check_upstream_gradients(k.grad_token, k.grad_step, k.n, k.num_steps);
    run_on(device, dev, &step_logprob_grad_scale, &gpu::step_logprob_grad_scale, k);
  };
  return run_job(args, std::move(job), async);
}

// ---- (a') from hidden states and the LM head ---------------------------------------------------------
struct HiddenShape {
  int64_t n, d, v, num_steps, chunk_rows;
  DType dtype;
  Array hidden, weight, targets, steps;
};

HiddenShape parse_hidden(Args& args) {
  HiddenShape s;
  s.dtype = args.dtype_or("dtype");
  s.n = args.integer("n", 0, kMaxInt32);
  s.d = args.integer("d", 1, kMaxInt32);
  s.v = args.integer("v", 1, kMaxInt32);
  s.num_steps = args.integer_or("numSteps", 0, kMaxInt32, 0);
  s.chunk_rows = args.integer_or("chunkRows", 0, kMaxInt32, 0);
  s.hidden = args.input("hidden", Kind::Float, product(args, "hidden", s.n, s.d), false, s.dtype);
  s.weight = args.input("weight", Kind::Float, product(args, "weight", s.v, s.d), false, s.dtype);
  s.targets = args.input("targets", Kind::I32, s.n);
  s.steps = args.input("stepIndex", Kind::I32, s.n, true);
  if (s.num_steps > 0 && !s.steps.present)
    args.range_error("stepIndex", "expected an Int32Array of length n when numSteps > 0");
  check_targets(args, s.targets, s.steps, s.n, s.v, s.num_steps);
  return s;
}

// The shape fields the forward and backward argument structs share.
template <typename K>
void fill_hidden_shape(K& k, const HiddenShape& s) {
  k.hidden = s.hidden.data;
  k.weight = s.weight.data;
  k.dtype = s.dtype;
  k.n = s.n;
  k.d = s.d;
  k.v = s.v;
  k.targets = static_cast<const int32_t*>(s.targets.data);
  k.step_index = static_cast<const int32_t*>(s.steps.data);
  k.num_steps = s.num_steps;
  k.chunk_rows = s.chunk_rows;
}

Napi::Value StepLogprobHiddenForwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobHiddenForwardAsync" : "stepLogprobHiddenForward");
  HiddenShape s = parse_hidden(args);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  StepLogprobHiddenForward k;
  fill_hidden_shape(k, s);
  k.token_logp = static_cast<float*>(args.output("tokenLogp", Kind::F32, s.n).data);
  k.step_sum = static_cast<float*>(args.output("stepSum", Kind::F32, s.num_steps).data);
  k.lse = static_cast<float*>(args.output("lse", Kind::F32, s.n).data);
  if (args.boolean_or("wantEntropy", false))
    k.entropy = static_cast<float*>(args.output("entropy", Kind::F32, s.n).data);
  if (args.boolean_or("wantArgmaxHit", false))
    k.argmax_hit = static_cast<uint8_t*>(args.output("argmaxHit", Kind::U8, s.n).data);
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, device, dev]() {
    if (check) {
      check_finite("hidden", k.hidden, k.dtype, k.n * k.d);
      check_finite("weight", k.weight, k.dtype, k.v * k.d);
    }
    run_on(device, dev, &step_logprob_hidden_forward, &gpu::step_logprob_hidden_forward, k);
  };
  return run_job(args, std::move(job), async);
}

Napi::Value StepLogprobHiddenBackwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "stepLogprobHiddenBackwardAsync" : "stepLogprobHiddenBackward");
  HiddenShape s = parse_hidden(args);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  StepLogprobHiddenBackward k;
  fill_hidden_shape(k, s);
  k.lse = static_cast<const float*>(args.input("lse", Kind::F32, s.n).data);
  k.grad_token = static_cast<const float*>(args.input("gradToken", Kind::F32, s.n, true).data);
  k.grad_step = static_cast<const float*>(args.input("gradStep", Kind::F32, s.num_steps, true).data);
  k.accumulate_dweight = args.boolean_or("accumulateDweight", false);
  bool want_dh = args.boolean_or("wantDhidden", true);
  bool want_dw = args.boolean_or("wantDweight", true);
  if (k.accumulate_dweight && !want_dw)
    args.range_error("accumulateDweight", "expected false when wantDweight is false");
  if (k.accumulate_dweight && args.object().Get("dweight").IsUndefined())
    args.type_error("dweight", "a Float32Array of length v*d to accumulate into (accumulateDweight: true)",
                    args.object().Get("dweight"));
  if (want_dh) k.dhidden = static_cast<float*>(args.output("dhidden", Kind::F32, s.n * s.d).data);
  if (want_dw) k.dweight = static_cast<float*>(args.output("dweight", Kind::F32, s.v * s.d).data);
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, device, dev]() {
    if (check) {
      check_finite("hidden", k.hidden, k.dtype, k.n * k.d);
      check_finite("weight", k.weight, k.dtype, k.v * k.d);
      check_backward_upstream(k);
    }
    run_on(device, dev, &step_logprob_hidden_backward, &gpu::step_logprob_hidden_backward, k);
  };
  return run_job(args, std::move(job), async);
}

void Register(Napi::Env env, Napi::Object exports) {
  export_pair<StepLogprobForwardB>(env, exports, "stepLogprobForward");
  export_pair<StepLogprobBackwardB>(env, exports, "stepLogprobBackward");
  export_pair<StepLogprobForwardGradB>(env, exports, "stepLogprobForwardGrad");
  export_pair<StepLogprobGradScaleB>(env, exports, "stepLogprobGradScale");
  export_pair<StepLogprobHiddenForwardB>(env, exports, "stepLogprobHiddenForward");
  export_pair<StepLogprobHiddenBackwardB>(env, exports, "stepLogprobHiddenBackward");
}

}  // namespace
}  // namespace stepwise::napi

STEPWISE_BINDING(kernels_step_logprob, stepwise::napi::Register);
