// The KV cache handle: sequences with forkable prefixes, prefill / advance / generate off the event loop.
#include <napi.h>

#include <cmath>

#include "model/kv_cache.h"
#include "model_common.h"
#include "registry.h"

namespace stepwise::napi {

namespace {

struct CacheState {
  std::unique_ptr<model::KVCache<float>> f;
  std::unique_ptr<model::KVCache<double>> d;
  std::atomic<bool> disposed{false};
};

std::vector<int64_t> read_ids(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsArray()) throw_coded(env, std::string(name) + ": expected an array of sequence ids", "ERR_ARGUMENT", true);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsNumber()) throw_coded(env, std::string(name) + ": expected numbers", "ERR_ARGUMENT", true);
    out.push_back(int64_t(x.As<Napi::Number>().DoubleValue()));
  }
  return out;
}

// kind 0 = prefill, 1 = advance (logits), 2 = generate
class CacheJob : public EngineJob {
 public:
  CacheJob(Napi::Env env, std::shared_ptr<Engine> e, std::shared_ptr<CacheState> c, int kind, std::vector<int64_t> ids,
           model::SampleOptions o = {})
      : EngineJob(env, std::move(e)), c_(std::move(c)), kind_(kind), ids_(std::move(ids)), o_(std::move(o)) {}

 private:
  template <typename T>
  void run(model::KVCache<T>& k, std::vector<T>& logits) {
    if (kind_ == 0) k.prefill(ids_);
    if (kind_ == 1) {
      logits.resize(ids_.size() * size_t(vocab_));
      k.advance(ids_, logits.data());
    }
    if (kind_ == 2) gen_ = k.generate(ids_, o_);
  }
  void Run() override {
    if (c_->disposed) return Fail("cache: used after dispose()", "ERR_DISPOSED");
    vocab_ = e_->f64() ? e_->d->cfg.vocab_size : e_->f->cfg.vocab_size;
    if (c_->d) run(*c_->d, zd_);
    else run(*c_->f, zf_);
  }
  Napi::Value Result(Napi::Env env) override {
    if (kind_ == 1) return c_->d ? typed_array(env, zd_.data(), zd_.size()) : typed_array(env, zf_.data(), zf_.size());
    if (kind_ == 0) return env.Undefined();
    Napi::Array out = Napi::Array::New(env, gen_.size());
    for (size_t i = 0; i < gen_.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      Napi::Int32Array t = Napi::Int32Array::New(env, gen_[i].tokens.size());
      std::copy(gen_[i].tokens.begin(), gen_[i].tokens.end(), t.Data());
      o.Set("tokens", t);
      o.Set("logprobs", typed_array(env, gen_[i].logprobs.data(), gen_[i].logprobs.size()));
      static const char* reasons[] = {"length", "stop", "max_seq_len"};
      o.Set("finish", reasons[gen_[i].finish]);
      out.Set(uint32_t(i), o);
    }
    return out;
  }
  std::shared_ptr<CacheState> c_;
  int kind_;
  std::vector<int64_t> ids_;
  model::SampleOptions o_;
  int64_t vocab_ = 0;
  std::vector<float> zf_;
  std::vector<double> zd_;
  std::vector<model::Generated> gen_;
};

class CacheWrap : public Napi::ObjectWrap<CacheWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "KVCacheHandle",
        {InstanceMethod<&CacheWrap::Create>("create"), InstanceMethod<&CacheWrap::Append>("append"),
         InstanceMethod<&CacheWrap::Fork>("fork"), InstanceMethod<&CacheWrap::Release>("release"),
         InstanceMethod<&CacheWrap::Tokens>("tokens"), InstanceMethod<&CacheWrap::Prefill>("prefill"),
         InstanceMethod<&CacheWrap::Advance>("advance"), InstanceMethod<&CacheWrap::Generate>("generate"),
         InstanceMethod<&CacheWrap::Stats>("stats"), InstanceMethod<&CacheWrap::Dispose>("dispose")});
  }

  // new KVCacheHandle(model, { budgetTokens, blockSize })
  explicit CacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CacheWrap>(info) {
    Napi::Env env = info.Env();
    engine_ = ModelWrap::engine_of(env, info[0], "model");
    Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    const double budget = read_number(env, o, "budgetTokens", 0), bs = read_number(env, o, "blockSize", 16);
    auto lk = lock_sync(env, *engine_, "new KVCache");
    c_ = std::make_shared<CacheState>();
    guarded(env, [&] {
      if (engine_->f64()) c_->d = std::make_unique<model::KVCache<double>>(*engine_->d, int64_t(budget), int64_t(bs));
      else c_->f = std::make_unique<model::KVCache<float>>(*engine_->f, int64_t(budget), int64_t(bs));
      return 0;
    });
  }

 private:
  // Runs fn on the typed cache under the engine lock (sync methods).
  template <typename F>
  Napi::Value sync(const Napi::CallbackInfo& info, const char* what, F&& fn) {
    Napi::Env env = info.Env();
    if (c_->disposed) throw_coded(env, std::string(what) + ": used after dispose()", "ERR_DISPOSED");
    auto lk = lock_sync(env, *engine_, what);
    return guarded(env, [&]() -> Napi::Value { return c_->d ? fn(*c_->d) : fn(*c_->f); });
  }
  Napi::Value Create(const Napi::CallbackInfo& info) {
    const auto toks = read_i32(info.Env(), info[0], "tokens");
    return sync(info, "cache.create", [&](auto& k) {
      return Napi::Number::New(info.Env(), double(k.create(toks.data(), int64_t(toks.size()))));
    });
  }
  Napi::Value Append(const Napi::CallbackInfo& info) {
    const auto toks = read_i32(info.Env(), info[1], "tokens");
    const int64_t id = int64_t(info[0].As<Napi::Number>().DoubleValue());
    return sync(info, "cache.append", [&](auto& k) {
      k.append(id, toks.data(), int64_t(toks.size()));
      return info.Env().Undefined();
    });
  }
  Napi::Value Fork(const Napi::CallbackInfo& info) {
    const int64_t id = int64_t(info[0].As<Napi::Number>().DoubleValue());
    const int64_t count = int64_t(info[1].As<Napi::Number>().DoubleValue());
    return sync(info, "cache.fork", [&](auto& k) -> Napi::Value {
      const auto ids = k.fork(id, count);
      Napi::Array a = Napi::Array::New(info.Env(), ids.size());
      for (size_t i = 0; i < ids.size(); ++i) a.Set(uint32_t(i), double(ids[i]));
      return a;
    });
  }
  Napi::Value Release(const Napi::CallbackInfo& info) {
    const int64_t id = int64_t(info[0].As<Napi::Number>().DoubleValue());
    return sync(info, "cache.release", [&](auto& k) {
      k.release(id);
      return info.Env().Undefined();
    });
  }
  Napi::Value Tokens(const Napi::CallbackInfo& info) {
    const int64_t id = int64_t(info[0].As<Napi::Number>().DoubleValue());
    return sync(info, "cache.tokens", [&](auto& k) -> Napi::Value {
      const auto& t = k.tokens(id);
      Napi::Int32Array a = Napi::Int32Array::New(info.Env(), t.size());
      std::copy(t.begin(), t.end(), a.Data());
      return a;
    });
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    return sync(info, "cache.stats", [&](auto& k) -> Napi::Value {
      const model::CacheStats s = k.stats();
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("numBlocks", double(s.num_blocks));
      o.Set("freeBlocks", double(s.free_blocks));
      o.Set("blockSize", double(s.block_size));
      o.Set("sequences", double(s.sequences));
      o.Set("evictions", double(s.evictions));
      o.Set("recomputedTokens", double(s.recomputed_tokens));
      o.Set("computedTokens", double(s.computed_tokens));
      o.Set("copyOnWrite", double(s.cow_copies));
      return o;
    });
  }
  Napi::Value queue(const Napi::CallbackInfo& info, int kind, model::SampleOptions o = {}) {
    Napi::Env env = info.Env();
    if (c_->disposed || engine_->disposed) throw_coded(env, "cache: used after dispose()", "ERR_DISPOSED");
    return (new CacheJob(env, engine_, c_, kind, read_ids(env, info[0], "sequences"), std::move(o)))->Queue_();
  }
  Napi::Value Prefill(const Napi::CallbackInfo& info) { return queue(info, 0); }
  Napi::Value Advance(const Napi::CallbackInfo& info) { return queue(info, 1); }
  // generate(ids, { maxNewTokens, temperature, topK, topP, seed, stopTokenIds: Int32Array })
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    model::SampleOptions s;
    s.max_new_tokens = int64_t(read_number(env, o, "maxNewTokens", 16));
    s.temperature = read_number(env, o, "temperature", 1.0);
    s.top_k = int64_t(read_number(env, o, "topK", 0));
    s.top_p = read_number(env, o, "topP", 1.0);
    s.seed = uint64_t(read_number(env, o, "seed", 0));
    if (!o.Get("stopTokenIds").IsUndefined()) s.stop_token_ids = read_i32(env, o.Get("stopTokenIds"), "stopTokenIds");
    if (!o.Get("streamSeeds").IsUndefined()) {
      // Seeds travel as doubles (safe integers, checked by the TypeScript layer); indices as int32.
      for (double d : read_floats<double>(env, o.Get("streamSeeds"), "streams.seed")) s.stream_seed.push_back(uint64_t(d));
      for (int32_t i : read_i32(env, o.Get("streamIndex"), "streams.index")) s.stream_index.push_back(i);
    }
    return queue(info, 2, std::move(s));
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (!c_->disposed.exchange(true)) {
      std::unique_lock<std::mutex> lk(engine_->mu, std::try_to_lock);
      if (lk.owns_lock()) c_->f.reset(), c_->d.reset();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<CacheState> c_;
};

void RegisterCache(Napi::Env env, Napi::Object exports) { exports.Set("KVCacheHandle", CacheWrap::Define(env)); }

}  // namespace

STEPWISE_BINDING(model_cache, RegisterCache);

}  // namespace stepwise::napi
