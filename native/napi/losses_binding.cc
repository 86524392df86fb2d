// Raw exports for the small loss kernels of kernels.h / gpu.h: (b) reward weighting and (c) the DPO margin.
// Same conventions as kernels_binding.cc: one options object, validation on the JS thread, `name` runs now and
// `nameAsync` on the libuv pool; location: "device" takes DeviceTensors and runs the gpu:: kernels.
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

// ---- (b) reward weighting ---------------------------------------------------------------------------
struct Segments {
  Array offsets, scale;
  int64_t num_segments, total;
};

Segments parse_segments(Args& args, int64_t total) {
  Segments g;
  g.total = total;
  g.offsets = args.input("offsets", Kind::I64, -1);
  check_offsets(args, g.offsets, total);
  g.num_segments = g.offsets.length - 1;
  g.scale = args.input("scale", Kind::F32, g.num_segments);
  return g;
}

Napi::Value RewardWeightsForwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "rewardWeightsForwardAsync" : "rewardWeightsForward");
  Array rewards = args.input("rewards", Kind::F32, -1);
  Segments g = parse_segments(args, rewards.length);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  RewardWeightsForward k;
  k.rewards = static_cast<const float*>(rewards.data);
  k.offsets = static_cast<const int64_t*>(g.offsets.data);
  k.scale = static_cast<const float*>(g.scale.data);
  k.num_segments = g.num_segments;
  k.total = g.total;
  k.weights = static_cast<float*>(args.output("weights", Kind::F32, g.total).data);
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, device, dev]() {
    if (check) {
      check_finite("rewards", k.rewards, DType::F32, k.total);
      check_finite("scale", k.scale, DType::F32, k.num_segments);
    }
    run_on(device, dev, &reward_weights_forward, &gpu::reward_weights_forward, k);
  };
  return run_job(args, std::move(job), async);
}

Napi::Value RewardWeightsBackwardB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "rewardWeightsBackwardAsync" : "rewardWeightsBackward");
  Array weights = args.input("weights", Kind::F32, -1);
  Array grad = args.input("gradWeights", Kind::F32, weights.length);
  Segments g = parse_segments(args, weights.length);
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  RewardWeightsBackward k;
  k.weights = static_cast<const float*>(weights.data);
  k.grad_weights = static_cast<const float*>(grad.data);
  k.offsets = static_cast<const int64_t*>(g.offsets.data);
  k.scale = static_cast<const float*>(g.scale.data);
  k.num_segments = g.num_segments;
  k.total = g.total;
  k.grad_rewards = static_cast<float*>(args.output("gradRewards", Kind::F32, g.total).data);
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  Job job;
  job.run = [k, check, device, dev]() {
    if (check) {
      check_finite("weights", k.weights, DType::F32, k.total);
      check_finite("gradWeights", k.grad_weights, DType::F32, k.total);
      check_finite("scale", k.scale, DType::F32, k.num_segments);
    }
    run_on(device, dev, &reward_weights_backward, &gpu::reward_weights_backward, k);
  };
  return run_job(args, std::move(job), async);
}

// ---- (c) DPO margin ------------------------------------------------------------------------------------
Napi::Value DpoMarginB(const Napi::CallbackInfo& info, bool async) {
  Args args(info, async ? "dpoMarginAsync" : "dpoMargin");
  Array pc = args.input("policyChosen", Kind::F32, -1);
  int64_t p = pc.length;
  Array pr = args.input("policyRejected", Kind::F32, p);
  Array rc = args.input("refChosen", Kind::F32, p);
  Array rr = args.input("refRejected", Kind::F32, p);
  Array margin = args.input("margin", Kind::F32, p, true);
  DpoMarginArgs k;
  k.num_pairs = p;
  k.policy_chosen = static_cast<const float*>(pc.data);
  k.policy_rejected = static_cast<const float*>(pr.data);
  k.ref_chosen = static_cast<const float*>(rc.data);
  k.ref_rejected = static_cast<const float*>(rr.data);
  k.margin = static_cast<const float*>(margin.data);
  double beta = args.number_or("beta", 0.1);
  if (!(beta > 0)) args.range_error("beta", "expected a finite number > 0, got " + std::to_string(beta));
  double eps = args.number_or("labelSmoothing", 0.0);
  if (!(eps >= 0 && eps <= 0.5)) args.range_error("labelSmoothing", "expected a number in [0, 0.5], got " + std::to_string(eps));
  Napi::Value lt = args.object().Get("lossType");
  k.loss_type = PreferenceLoss::Sigmoid;
  if (!lt.IsUndefined()) {
    std::string s = lt.IsString() ? lt.As<Napi::String>().Utf8Value() : "";
    if (s == "ipo") k.loss_type = PreferenceLoss::Ipo;
    else if (s != "sigmoid") args.type_error("lossType", "\"sigmoid\" or \"ipo\"", lt);
  }
  k.beta = static_cast<float>(beta);
  k.label_smoothing = static_cast<float>(eps);
  k.grad_scale = static_cast<float>(args.number_or("gradScale", 1.0));
  k.loss = static_cast<float*>(args.output("loss", Kind::F32, p).data);
  if (args.boolean_or("wantGrads", true)) {
    k.grad_chosen = static_cast<float*>(args.output("gradChosen", Kind::F32, p).data);
    k.grad_rejected = static_cast<float*>(args.output("gradRejected", Kind::F32, p).data);
  }
  bool check = args.boolean_or("checkValues", true) && args.loc() == Loc::Host;
  bool device = args.loc() == Loc::Device;
  int dev = args.device();
  auto red = std::make_shared<DpoReductions>();
  Job job;
  job.run = [k, check, device, dev, red]() {
    if (check) {
      check_finite("policyChosen", k.policy_chosen, DType::F32, k.num_pairs);
      check_finite("policyRejected", k.policy_rejected, DType::F32, k.num_pairs);
      check_finite("refChosen", k.ref_chosen, DType::F32, k.num_pairs);
      check_finite("refRejected", k.ref_rejected, DType::F32, k.num_pairs);
      if (k.margin) check_finite("margin", k.margin, DType::F32, k.num_pairs);
    }
    *red = run_on(device, dev, &dpo_margin, &gpu::dpo_margin, k);
  };
  job.finish = [red](Napi::Env env, Napi::Object out) {
    out.Set("meanLoss", red->mean_loss);
    out.Set("rewardAccuracy", red->reward_accuracy);
    out.Set("chosenReward", red->chosen_reward);
    out.Set("rejectedReward", red->rejected_reward);
    out.Set("rewardMargin", red->margin);
  };
  return run_job(args, std::move(job), async);
}

void Register(Napi::Env env, Napi::Object exports) {
  export_pair<RewardWeightsForwardB>(env, exports, "rewardWeightsForward");
  export_pair<RewardWeightsBackwardB>(env, exports, "rewardWeightsBackward");
  export_pair<DpoMarginB>(env, exports, "dpoMargin");
}

}  // namespace
}  // namespace stepwise::napi

STEPWISE_BINDING(kernels_losses, stepwise::napi::Register);
