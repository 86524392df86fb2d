// The Model handle: construction from a config, async forward / backward / logits, tensor access, dispose().
#include <napi.h>

#include <cmath>

#include "model_common.h"
#include "registry.h"

namespace stepwise::napi {

namespace {

const napi_type_tag kModelTag = {0x5e7a11ce0fd1e001ull, 0x9b1d3a77c0de0001ull};

model::ModelConfig read_config(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw_coded(env, "config: expected an object", "ERR_CONFIG", true);
  Napi::Object o = v.As<Napi::Object>();
  model::ModelConfig c;
  auto integer = [&](const char* key) {
    const double x = read_number(env, o, key, 0);
    if (x != std::floor(x) || x < 0 || x > 9e15)
      throw_coded(env, std::string("config.") + key + ": expected a non-negative integer", "ERR_CONFIG");
    return int64_t(x);
  };
  c.vocab_size = integer("vocabSize");
  c.hidden_size = integer("hiddenSize");
  c.intermediate_size = integer("intermediateSize");
  c.num_layers = integer("numLayers");
  c.num_heads = integer("numHeads");
  c.num_kv_heads = integer("numKvHeads");
  c.head_dim = integer("headDim");
  c.max_seq_len = integer("maxSeqLen");
  c.rope_theta = read_number(env, o, "ropeTheta", 10000.0);
  c.rms_norm_eps = read_number(env, o, "rmsNormEps", 1e-6);
  c.qkv_bias = o.Get("qkvBias").ToBoolean();
  c.tie_embeddings = o.Get("tieEmbeddings").ToBoolean();
  return c;
}

// Copies the packed batch on the JS thread (JS may mutate its arrays while the job runs).
struct BatchData {
  std::vector<int32_t> tokens, targets, steps, parents;
  std::vector<int64_t> offsets;
  int64_t num_steps = 0;
  model::Batch view() const {
    model::Batch b;
    b.tokens = tokens.data();
    b.targets = targets.empty() ? nullptr : targets.data();
    b.step_index = steps.empty() ? nullptr : steps.data();
    b.offsets = offsets.data();
    b.parents = parents.empty() ? nullptr : parents.data();
    b.num_seqs = int64_t(offsets.size()) - 1;
    b.num_steps = num_steps;
    return b;
  }
};

BatchData read_batch(Napi::Env env, const Napi::CallbackInfo& info) {
  BatchData b;
  b.tokens = read_i32(env, info[0], "tokens");
  if (!info[1].IsNull()) b.targets = read_i32(env, info[1], "targets");
  if (!info[2].IsNull()) b.steps = read_i32(env, info[2], "stepIndex");
  const std::vector<int32_t> off = read_i32(env, info[3], "offsets");
  const double ns = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : -1;
  if (!(ns >= 0 && ns < 2147483648.0) || ns != std::floor(ns))
    throw_coded(env, "numSteps: expected an integer in [0, 2^31)", "ERR_ARGUMENT");
  b.num_steps = int64_t(ns);
  const size_t n = b.tokens.size();
  if (off.size() < 2 || off.front() != 0 || size_t(off.back()) != n)
    throw_coded(env, "offsets: expected [0, ..., tokens.length] with at least one sequence", "ERR_ARGUMENT");
  for (size_t i = 1; i < off.size(); ++i)
    if (off[i] < off[i - 1]) throw_coded(env, "offsets: expected non-decreasing values", "ERR_ARGUMENT");
  if (!b.targets.empty() && b.targets.size() != n)
    throw_coded(env, "targets: expected the same length as tokens", "ERR_ARGUMENT");
  if (!b.steps.empty() && b.steps.size() != n)
    throw_coded(env, "stepIndex: expected the same length as tokens", "ERR_ARGUMENT");
  b.offsets.assign(off.begin(), off.end());
  // Optional segment parents (model.h Batch): one per sequence; their values are checked by Model::check_batch.
  if (info.Length() > 5 && !info[5].IsNull() && !info[5].IsUndefined()) {
    b.parents = read_i32(env, info[5], "parents");
    if (b.parents.size() + 1 != off.size())
      throw_coded(env, "parents: expected one entry per sequence (" + std::to_string(off.size() - 1) + "), got " +
                           std::to_string(b.parents.size()),
                  "ERR_ARGUMENT");
  }
  return b;
}

class ForwardJob : public EngineJob {
 public:
  ForwardJob(Napi::Env env, std::shared_ptr<Engine> e, BatchData b, bool want_logits)
      : EngineJob(env, std::move(e)), b_(std::move(b)), logits_(want_logits), f64_(e_->f64()) {}

 private:
  template <typename T>
  void run(model::Model<T>& m, std::vector<T>& logp, std::vector<T>& steps, std::vector<T>& logits) {
    if (logits_) {
      logits.resize(size_t(b_.offsets.back() * m.cfg.vocab_size));
      m.logits(b_.view(), logits.data());
    } else {
      m.forward(b_.view());
    }
    logp = m.token_logp();
    steps = m.step_sum();
    id_ = double(m.forward_id());
  }
  void Run() override {
    if (f64_) run(*e_->d, ld_, sd_, zd_);
    else run(*e_->f, lf_, sf_, zf_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    if (f64_) {  // decided at construction: dispose() may free the model before this runs
      o.Set("tokenLogp", typed_array(env, ld_.data(), ld_.size()));
      o.Set("stepSum", typed_array(env, sd_.data(), sd_.size()));
      if (logits_) o.Set("logits", typed_array(env, zd_.data(), zd_.size()));
    } else {
      o.Set("tokenLogp", typed_array(env, lf_.data(), lf_.size()));
      o.Set("stepSum", typed_array(env, sf_.data(), sf_.size()));
      if (logits_) o.Set("logits", typed_array(env, zf_.data(), zf_.size()));
    }
    o.Set("forwardId", id_);
    return o;
  }
  BatchData b_;
  bool logits_, f64_;
  double id_ = 0;
  std::vector<float> lf_, sf_, zf_;
  std::vector<double> ld_, sd_, zd_;
};

template <typename T>
class BackwardJob : public EngineJob {
 public:
  BackwardJob(Napi::Env env, std::shared_ptr<Engine> e, double id, std::vector<T> gt, std::vector<T> gs, bool has_t,
              bool has_s)
      : EngineJob(env, std::move(e)), id_(id), gt_(std::move(gt)), gs_(std::move(gs)), has_t_(has_t), has_s_(has_s) {}

 private:
  model::Model<T>& m();
  void Run() override {
    model::Model<T>& mm = m();
    if (!mm.has_forward() || double(mm.forward_id()) != id_)
      return Fail("backward: expected the output of the model's latest forward() (another forward or logits call "
                  "ran since)",
                  "ERR_STALE_FORWARD");
    if (has_t_ && gt_.size() != mm.token_logp().size())
      return Fail("gradToken: expected length " + std::to_string(mm.token_logp().size()) + ", got " +
                      std::to_string(gt_.size()),
                  "ERR_ARGUMENT");
    if (has_s_ && gs_.size() != mm.step_sum().size())
      return Fail("gradStep: expected length " + std::to_string(mm.step_sum().size()) + ", got " +
                      std::to_string(gs_.size()),
                  "ERR_ARGUMENT");
    for (T g : gt_)
      if (!std::isfinite(double(g))) return Fail("gradToken: expected finite values", "ERR_ARGUMENT");
    for (T g : gs_)
      if (!std::isfinite(double(g))) return Fail("gradStep: expected finite values", "ERR_ARGUMENT");
    mm.backward(has_t_ ? gt_.data() : nullptr, has_s_ ? gs_.data() : nullptr);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  double id_;
  std::vector<T> gt_, gs_;
  bool has_t_, has_s_;
};
template <>
model::Model<float>& BackwardJob<float>::m() {
  return *e_->f;
}
template <>
model::Model<double>& BackwardJob<double>::m() {
  return *e_->d;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "ModelHandle",
                     {InstanceMethod<&ModelWrap::Tensors>("tensors"), InstanceMethod<&ModelWrap::Forward>("forward"),
                      InstanceMethod<&ModelWrap::Backward>("backward"), InstanceMethod<&ModelWrap::Logits>("logits"),
                      InstanceMethod<&ModelWrap::ZeroGrad>("zeroGrad"),
                      InstanceMethod<&ModelWrap::GetTensor>("getTensor"),
                      InstanceMethod<&ModelWrap::SetTensor>("setTensor"),
                      InstanceMethod<&ModelWrap::Dispose>("dispose"),
                      InstanceMethod<&ModelWrap::IsDisposed>("isDisposed")});
}

std::shared_ptr<Engine> ModelWrap::engine_of(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kModelTag))
    throw_coded(env, std::string(name) + ": expected a model handle", "ERR_ARGUMENT", true);
  return Unwrap(v.As<Napi::Object>())->engine;
}

// new ModelHandle(config, { dtype: 'float32' | 'float64', seed, initStd })
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  const model::ModelConfig c = read_config(env, info[0]);
  Napi::Object opts = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  const std::string dtype = opts.Get("dtype").IsString() ? opts.Get("dtype").As<Napi::String>().Utf8Value() : "float32";
  if (dtype != "float32" && dtype != "float64")
    throw_coded(env, "dtype: expected 'float32' or 'float64'", "ERR_ARGUMENT", true);
  const double seed = read_number(env, opts, "seed", 0), std_ = read_number(env, opts, "initStd", 0.02);
  engine = std::make_shared<Engine>();
  guarded(env, [&] {
    if (dtype == "float64") {
      engine->d = std::make_unique<model::Model<double>>(c);
      engine->d->init(uint64_t(seed), std_);
      engine->bytes = int64_t(engine->d->params.size() * 2 * sizeof(double));
    } else {
      engine->f = std::make_unique<model::Model<float>>(c);
      engine->f->init(uint64_t(seed), std_);
      engine->bytes = int64_t(engine->f->params.size() * 2 * sizeof(float));
    }
    return 0;
  });
  Napi::MemoryManagement::AdjustExternalMemory(env, engine->bytes);
  info.This().As<Napi::Object>().TypeTag(&kModelTag);
}

ModelWrap::~ModelWrap() = default;

Napi::Value ModelWrap::Tensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto lk = lock_sync(env, *engine, "model.tensors");
  const model::ParamLayout& l = engine->f64() ? engine->d->layout : engine->f->layout;
  Napi::Array out = Napi::Array::New(env, l.tensors.size());
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& t = l.tensors[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", t.name);
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t j = 0; j < t.shape.size(); ++j) shape.Set(uint32_t(j), double(t.shape[j]));
    o.Set("shape", shape);
    o.Set("offset", double(t.offset));
    o.Set("size", double(t.size));
    o.Set("decay", t.decay);
    out.Set(uint32_t(i), o);
  }
  return out;
}

// forward(tokens, targets | null, stepIndex | null, offsets, numSteps, parents | null)
//   -> Promise<{tokenLogp, stepSum, forwardId}>
Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (engine->disposed) throw_coded(env, "model.forward: used after dispose()", "ERR_DISPOSED");
  auto* job = new ForwardJob(env, engine, read_batch(env, info), false);
  return job->Queue_();
}

// logits(tokens, null, null, offsets, 0, parents | null) -> Promise<{logits, tokenLogp, stepSum, forwardId}>
Napi::Value ModelWrap::Logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (engine->disposed) throw_coded(env, "model.logits: used after dispose()", "ERR_DISPOSED");
  auto* job = new ForwardJob(env, engine, read_batch(env, info), true);
  return job->Queue_();
}

// backward(forwardId, gradToken | null, gradStep | null) -> Promise<void>
Napi::Value ModelWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (engine->disposed) throw_coded(env, "model.backward: used after dispose()", "ERR_DISPOSED");
  const double id = info[0].As<Napi::Number>().DoubleValue();
  const bool ht = !info[1].IsNull() && !info[1].IsUndefined(), hs = !info[2].IsNull() && !info[2].IsUndefined();
  if (engine->f64()) {
    auto* job = new BackwardJob<double>(env, engine, id, ht ? read_floats<double>(env, info[1], "gradToken") : std::vector<double>{},
                                        hs ? read_floats<double>(env, info[2], "gradStep") : std::vector<double>{}, ht, hs);
    return job->Queue_();
  }
  auto* job = new BackwardJob<float>(env, engine, id, ht ? read_floats<float>(env, info[1], "gradToken") : std::vector<float>{},
                                     hs ? read_floats<float>(env, info[2], "gradStep") : std::vector<float>{}, ht, hs);
  return job->Queue_();
}

Napi::Value ModelWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  auto lk = lock_sync(info.Env(), *engine, "model.zeroGrad");
  if (engine->f64()) engine->d->zero_grad();
  else engine->f->zero_grad();
  return info.Env().Undefined();
}

// getTensor(name, 'param' | 'grad') -> a copy (Float32Array or Float64Array by dtype)
Napi::Value ModelWrap::GetTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto lk = lock_sync(env, *engine, "model.getTensor");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const bool grad = info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "grad";
  const model::ParamLayout& l = engine->f64() ? engine->d->layout : engine->f->layout;
  const model::TensorInfo* t = l.find(name);
  if (!t) throw_coded(env, "name: expected a tensor of this model, got '" + name + "'", "ERR_ARGUMENT");
  if (engine->f64()) {
    const auto& v = grad ? engine->d->grads : engine->d->params;
    return typed_array(env, v.data() + t->offset, size_t(t->size));
  }
  const auto& v = grad ? engine->f->grads : engine->f->params;
  return typed_array(env, v.data() + t->offset, size_t(t->size));
}

// setTensor(name, Float32Array | Float64Array of the tensor's size)
Napi::Value ModelWrap::SetTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto lk = lock_sync(env, *engine, "model.setTensor");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const model::ParamLayout& l = engine->f64() ? engine->d->layout : engine->f->layout;
  const model::TensorInfo* t = l.find(name);
  if (!t) throw_coded(env, "name: expected a tensor of this model, got '" + name + "'", "ERR_ARGUMENT");
  auto put = [&](auto& params, auto data) {
    if (int64_t(data.size()) != t->size)
      throw_coded(env, "data: expected " + std::to_string(t->size) + " values for " + name + ", got " +
                           std::to_string(data.size()),
                  "ERR_ARGUMENT");
    std::copy(data.begin(), data.end(), params.begin() + t->offset);
  };
  if (engine->f64()) put(engine->d->params, read_floats<double>(env, info[1], "data"));
  else put(engine->f->params, read_floats<float>(env, info[1], "data"));
  return env.Undefined();
}

// Frees the parameters now, or at the end of the running job; later calls throw ERR_DISPOSED.
Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  if (!engine->disposed.exchange(true)) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -engine->bytes);
    std::unique_lock<std::mutex> lk(engine->mu, std::try_to_lock);
    if (lk.owns_lock()) engine->free_models();
  }
  return info.Env().Undefined();
}

Napi::Value ModelWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), engine->disposed.load());
}

namespace {
void RegisterModel(Napi::Env env, Napi::Object exports) { exports.Set("ModelHandle", ModelWrap::Define(env)); }
}  // namespace
STEPWISE_BINDING(model, RegisterModel);

}  // namespace stepwise::napi
