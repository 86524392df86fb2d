// The Optimizer handle: AdamW / SGD over a model's parameters; step(lr) runs off the event loop.
#include <napi.h>

#include <cmath>

#include "model/optimizer.h"
#include "model_common.h"
#include "registry.h"

namespace stepwise::napi {

namespace {

struct OptState {
  std::unique_ptr<model::Optimizer<float>> f;
  std::unique_ptr<model::Optimizer<double>> d;
  std::atomic<bool> disposed{false};
};

class StepJob : public EngineJob {
 public:
  StepJob(Napi::Env env, std::shared_ptr<Engine> e, std::shared_ptr<OptState> o, double lr)
      : EngineJob(env, std::move(e)), o_(std::move(o)), lr_(lr) {}

 private:
  void Run() override {
    if (o_->disposed) return Fail("optimizer.step: used after dispose()", "ERR_DISPOSED");
    r_ = o_->d ? o_->d->step(lr_) : o_->f->step(lr_);
    t_ = o_->d ? o_->d->t : o_->f->t;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("gradNorm", r_.grad_norm);
    o.Set("skipped", r_.skipped);
    o.Set("step", double(t_));
    return o;
  }
  std::shared_ptr<OptState> o_;
  double lr_;
  model::StepResult r_;
  int64_t t_ = 0;
};

class OptimizerWrap : public Napi::ObjectWrap<OptimizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OptimizerHandle",
                       {InstanceMethod<&OptimizerWrap::Step>("step"),
                        InstanceMethod<&OptimizerWrap::GradNorm>("gradNorm"),
                        InstanceMethod<&OptimizerWrap::GetState>("getState"),
                        InstanceMethod<&OptimizerWrap::SetState>("setState"),
                        InstanceMethod<&OptimizerWrap::StepCount>("stepCount"),
                        InstanceMethod<&OptimizerWrap::SetStepCount>("setStepCount"),
                        InstanceMethod<&OptimizerWrap::Dispose>("dispose")});
  }

  // new OptimizerHandle(model, { kind: 'adamw' | 'sgd', beta1, beta2, eps, momentum, nesterov, weightDecay, maxGradNorm })
  explicit OptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimizerWrap>(info) {
    Napi::Env env = info.Env();
    engine_ = ModelWrap::engine_of(env, info[0], "model");
    Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    model::OptimizerConfig c;
    const std::string kind = o.Get("kind").IsString() ? o.Get("kind").As<Napi::String>().Utf8Value() : "adamw";
    if (kind != "adamw" && kind != "sgd") throw_coded(env, "optimizer.kind: expected 'adamw' or 'sgd'", "ERR_CONFIG");
    c.kind = kind == "adamw" ? model::OptimizerKind::AdamW : model::OptimizerKind::Sgd;
    c.beta1 = read_number(env, o, "beta1", c.beta1);
    c.beta2 = read_number(env, o, "beta2", c.beta2);
    c.eps = read_number(env, o, "eps", c.eps);
    c.momentum = read_number(env, o, "momentum", c.momentum);
    c.nesterov = o.Get("nesterov").ToBoolean();
    c.weight_decay = read_number(env, o, "weightDecay", c.weight_decay);
    c.max_grad_norm = read_number(env, o, "maxGradNorm", c.max_grad_norm);
    auto lk = lock_sync(env, *engine_, "new Optimizer");
    st_ = std::make_shared<OptState>();
    guarded(env, [&] {
      if (engine_->f64()) st_->d = std::make_unique<model::Optimizer<double>>(*engine_->d, c);
      else st_->f = std::make_unique<model::Optimizer<float>>(*engine_->f, c);
      return 0;
    });
  }

 private:
  void check(Napi::Env env, const char* what) {
    if (st_->disposed) throw_coded(env, std::string(what) + ": used after dispose()", "ERR_DISPOSED");
  }
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check(env, "optimizer.step");
    if (engine_->disposed) throw_coded(env, "optimizer.step: the model was disposed", "ERR_DISPOSED");
    const double lr = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(lr >= 0) || !std::isfinite(lr)) throw_coded(env, "lr: expected a finite number >= 0", "ERR_ARGUMENT");
    return (new StepJob(env, engine_, st_, lr))->Queue_();
  }
  Napi::Value GradNorm(const Napi::CallbackInfo& info) {
    check(info.Env(), "optimizer.gradNorm");
    auto lk = lock_sync(info.Env(), *engine_, "optimizer.gradNorm");
    return Napi::Number::New(info.Env(), st_->d ? st_->d->grad_norm() : st_->f->grad_norm());
  }
  // The state buffer of one tensor: slot 0 = exp_avg (AdamW) / momentum_buffer (SGD), 1 = exp_avg_sq.
  template <typename T>
  std::vector<T>* slot(model::Optimizer<T>& o, int s) {
    std::vector<T>* v = s == 0 ? &o.m1 : &o.m2;
    return v->empty() ? nullptr : v;
  }
  const model::TensorInfo& tensor(Napi::Env env, const std::string& name) {
    const model::ParamLayout& l = engine_->f64() ? engine_->d->layout : engine_->f->layout;
    const model::TensorInfo* t = l.find(name);
    if (!t) throw_coded(env, "name: expected a tensor of this model, got '" + name + "'", "ERR_ARGUMENT");
    return *t;
  }
  // getState(name, slot) -> typed array copy, or null when the optimizer keeps no such state
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check(env, "optimizer.getState");
    auto lk = lock_sync(env, *engine_, "optimizer.getState");
    const auto& t = tensor(env, info[0].As<Napi::String>().Utf8Value());
    const int s = info[1].As<Napi::Number>().Int32Value();
    if (st_->d) {
      auto* v = slot(*st_->d, s);
      return v ? typed_array(env, v->data() + t.offset, size_t(t.size)) : env.Null();
    }
    auto* v = slot(*st_->f, s);
    return v ? typed_array(env, v->data() + t.offset, size_t(t.size)) : env.Null();
  }
  Napi::Value SetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check(env, "optimizer.setState");
    auto lk = lock_sync(env, *engine_, "optimizer.setState");
    const auto& t = tensor(env, info[0].As<Napi::String>().Utf8Value());
    const int s = info[1].As<Napi::Number>().Int32Value();
    auto put = [&](auto* v, auto data) {
      if (!v) throw_coded(env, "slot: this optimizer keeps no such state", "ERR_ARGUMENT");
      if (int64_t(data.size()) != t.size) throw_coded(env, "data: expected " + std::to_string(t.size) + " values", "ERR_ARGUMENT");
      std::copy(data.begin(), data.end(), v->begin() + t.offset);
    };
    if (st_->d) put(slot(*st_->d, s), read_floats<double>(env, info[2], "data"));
    else put(slot(*st_->f, s), read_floats<float>(env, info[2], "data"));
    return env.Undefined();
  }
  Napi::Value StepCount(const Napi::CallbackInfo& info) {
    check(info.Env(), "optimizer.stepCount");
    return Napi::Number::New(info.Env(), double(st_->d ? st_->d->t : st_->f->t));
  }
  Napi::Value SetStepCount(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check(env, "optimizer.setStepCount");
    auto lk = lock_sync(env, *engine_, "optimizer.setStepCount");
    const double t = info[0].As<Napi::Number>().DoubleValue();
    if (!(t >= 0) || t != std::floor(t)) throw_coded(env, "step: expected a non-negative integer", "ERR_ARGUMENT");
    if (st_->d) st_->d->t = int64_t(t);
    else st_->f->t = int64_t(t);
    return env.Undefined();
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    // The state is freed with the last holder (a pending step keeps it alive); marking it stops new use.
    if (!st_->disposed) {
      std::unique_lock<std::mutex> lk(engine_->mu, std::try_to_lock);
      st_->disposed = true;
      if (lk.owns_lock()) st_->f.reset(), st_->d.reset();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<OptState> st_;
};

void RegisterOptimizer(Napi::Env env, Napi::Object exports) {
  exports.Set("OptimizerHandle", OptimizerWrap::Define(env));
}

}  // namespace

STEPWISE_BINDING(model_optimizer, RegisterOptimizer);

}  // namespace stepwise::napi
