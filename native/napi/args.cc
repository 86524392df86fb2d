// See args.h. The typed-array checks follow native-build.md §2: type tag first, then detached buffers, then
// exact lengths, so a raw caller can pass anything without reaching a kernel with a bad pointer or size.
#include "args.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/parallel.h"
#include "gpu/gpu.h"

namespace stepwise::napi {

DeviceBuffer::~DeviceBuffer() {
  if (!ptr) return;
  try {
    gpu::set_device(device);
    gpu::free(ptr);
  } catch (...) {
    // A failing free (e.g. a lost device) must not take the process down from a destructor.
  }
}

std::string describe(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    Napi::Value ctor = t.Get("constructor");
    std::string name = "TypedArray";
    if (ctor.IsFunction()) {
      Napi::Value nm = ctor.As<Napi::Object>().Get("name");
      if (nm.IsString()) name = nm.As<Napi::String>().Utf8Value();
    }
    return name + "(" + std::to_string(t.ElementLength()) + ")";
  }
  if (v.IsArray()) return "Array(" + std::to_string(v.As<Napi::Array>().Length()) + ")";
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    return Napi::Value(v).ToString().Utf8Value();
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "\"" + s + "\"";
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsFunction()) return "function";
  if (v.IsBigInt()) return "bigint";
  return "object";
}

const char* kind_name(Kind k, DType dtype) {
  switch (k) {
    case Kind::F32: return "a Float32Array";
    case Kind::Float: return dtype == DType::BF16 ? "a Uint16Array (bf16 bits)" : "a Float32Array";
    case Kind::I32: return "an Int32Array";
    case Kind::I64: return "a BigInt64Array";
    case Kind::U8: return "a Uint8Array";
  }
  return "an array";
}

namespace {
napi_typedarray_type host_type(Kind k, DType dtype) {
  switch (k) {
    case Kind::F32: return napi_float32_array;
    case Kind::Float: return dtype == DType::BF16 ? napi_uint16_array : napi_float32_array;
    case Kind::I32: return napi_int32_array;
    case Kind::I64: return napi_bigint64_array;
    case Kind::U8: return napi_uint8_array;
  }
  return napi_float32_array;
}
const char* device_dtype(Kind k, DType dtype) {
  switch (k) {
    case Kind::F32: return "f32";
    case Kind::Float: return dtype == DType::BF16 ? "bf16" : "f32";
    case Kind::I32: return "i32";
    case Kind::I64: return "i64";
    case Kind::U8: return "u8";
  }
  return "?";
}
}  // namespace

Args::Args(const Napi::CallbackInfo& info, const char* fn) : env_(info.Env()), fn_(fn) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsFunction() ||
      info[0].IsTypedArray())
    throw Napi::TypeError::New(env_, std::string(fn) + ": expected one options object, got " +
                                         (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  obj_ = info[0].As<Napi::Object>();
  result_ = Napi::Object::New(env_);
  // A device call is recognised by its output object: the TS layer passes pre-allocated DeviceTensors.
  Napi::Value dev = obj_.Get("location");
  if (!dev.IsUndefined()) {
    if (!dev.IsString()) type_error("location", "\"host\" or \"device\"", dev);
    std::string s = dev.As<Napi::String>().Utf8Value();
    if (s == "device") loc_ = Loc::Device;
    else if (s != "host") type_error("location", "\"host\" or \"device\"", dev);
  }
}

void Args::type_error(const std::string& key, const std::string& expected, Napi::Value got) const {
  throw Napi::TypeError::New(env_, fn_ + ": " + key + ": expected " + expected + ", got " + describe(got));
}
void Args::range_error(const std::string& key, const std::string& msg) const {
  throw Napi::RangeError::New(env_, fn_ + ": " + key + ": " + msg);
}

int64_t Args::integer(const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = obj_.Get(key);
  std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) type_error(key, expected, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    range_error(key, "expected " + expected + ", got " + describe(v));
  return static_cast<int64_t>(d);
}

int64_t Args::integer_or(const char* key, int64_t lo, int64_t hi, int64_t def) {
  if (obj_.Get(key).IsUndefined()) return def;
  return integer(key, lo, hi);
}

double Args::number_or(const char* key, double def, bool finite) {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) type_error(key, finite ? "a finite number" : "a number", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || (finite && !std::isfinite(d)))
    range_error(key, std::string("expected ") + (finite ? "a finite number" : "a number") + ", got " + describe(v));
  return d;
}

bool Args::boolean_or(const char* key, bool def) {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) type_error(key, "a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

DType Args::dtype_or(const char* key) {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined()) return DType::F32;
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "f32") return DType::F32;
    if (s == "bf16") return DType::BF16;
  }
  type_error(key, "\"f32\" or \"bf16\"", v);
}

Array Args::from_value(const char* key, Napi::Value v, Kind kind, int64_t length, DType dtype) {
  Array a;
  a.present = true;
  a.dtype = dtype;
  std::string len_msg = length >= 0 ? " of length " + std::to_string(length) : "";
  if (loc_ == Loc::Host) {
    const char* name = kind_name(kind, dtype);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != host_type(kind, dtype))
      type_error(key, std::string(name) + len_msg, v);
    // napi_get_typedarray_info gives the element pointer directly (byte offset applied) and, unlike
    // Napi::ArrayBuffer::Data(), also works for views over a SharedArrayBuffer.
    napi_typedarray_type type;
    size_t count = 0;
    void* data = nullptr;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env_, v, &type, &count, &data, &ab, &offset) != napi_ok)
      type_error(key, std::string(name) + len_msg, v);
    bool detached = false;
    if (napi_is_detached_arraybuffer(env_, ab, &detached) == napi_ok && detached)
      range_error(key, "its ArrayBuffer is detached (transferred); pass a live array");
    a.length = static_cast<int64_t>(count);
    if (length >= 0 && a.length != length)
      range_error(key, std::string("expected ") + name + len_msg + ", got " + describe(v));
    if (a.length > 0 && data == nullptr) range_error(key, "has no backing store");
    a.data = data;
    a.check = a.data;
    keep_.push_back(v);
    return a;
  }
  DeviceView dv;
  const char* want = device_dtype(kind, dtype);
  if (!device_view(env_, v, std::string(fn_) + ": " + key, &dv))
    type_error(key, std::string("a DeviceTensor of dtype ") + want + len_msg + " (this is a device call)", v);
  if (dv.dtype != want)
    type_error(key, std::string("a DeviceTensor of dtype ") + want + len_msg,
               Napi::String::New(env_, "DeviceTensor<" + dv.dtype + ">"));
  a.length = dv.length;
  if (length >= 0 && a.length != length)
    range_error(key, "expected a DeviceTensor" + len_msg + ", got length " + std::to_string(a.length));
  if (device_ < 0) device_ = dv.buf->device;
  else if (dv.buf->device != device_)
    range_error(key, "is on device " + std::to_string(dv.buf->device) + " but the other tensors are on device " +
                         std::to_string(device_));
  a.data = dv.buf->ptr;
  a.check = dv.buf->mirror.empty() ? nullptr : dv.buf->mirror.data();
  keep_.push_back(v);
  buffers_.push_back(dv.buf);
  return a;
}

Array Args::input(const char* key, Kind kind, int64_t length, bool optional, DType dtype) {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (optional) return Array{};
    type_error(key, std::string(loc_ == Loc::Host ? kind_name(kind, dtype) : "a DeviceTensor") +
                        (length >= 0 ? " of length " + std::to_string(length) : ""),
               v);
  }
  return from_value(key, v, kind, length, dtype);
}

Array Args::output(const char* key, Kind kind, int64_t length, DType dtype) {
  Napi::Value v = obj_.Get(key);
  if (!v.IsUndefined() && !v.IsNull()) {
    Array a = from_value(key, v, kind, length, dtype);
    result_.Set(key, v);
    return a;
  }
  if (loc_ == Loc::Device)
    type_error(key, "a DeviceTensor output (device calls pass pre-allocated outputs)", v);
  Napi::TypedArray t;
  size_t n = static_cast<size_t>(length);
  switch (kind) {
    case Kind::F32: t = Napi::Float32Array::New(env_, n); break;
    case Kind::Float:
      t = dtype == DType::BF16 ? Napi::TypedArray(Napi::Uint16Array::New(env_, n))
                               : Napi::TypedArray(Napi::Float32Array::New(env_, n));
      break;
    case Kind::I32: t = Napi::Int32Array::New(env_, n); break;
    case Kind::I64: t = Napi::BigInt64Array::New(env_, n); break;
    case Kind::U8: t = Napi::Uint8Array::New(env_, n); break;
  }
  result_.Set(key, t);
  return from_value(key, t, kind, length, dtype);
}

// ---- data checks --------------------------------------------------------------------------------------
namespace {
inline float load(const void* p, DType dt, int64_t i) {
  return dt == DType::F32 ? static_cast<const float*>(p)[i] : bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}
// Records the first bad index found by any thread (smallest wins, so the message is deterministic).
struct FirstBad {
  std::atomic<int64_t> at{std::numeric_limits<int64_t>::max()};
  void note(int64_t i) {
    int64_t cur = at.load();
    while (i < cur && !at.compare_exchange_weak(cur, i)) {
    }
  }
};
}  // namespace

namespace {

// Branch-free bit tests over one row, written so the compiler vectorises them (the scan runs on every default
// call, so it must cost a fraction of the kernel): a value is bad when it is NaN or +Infinity; `live` records
// whether any value is not -Infinity. fp32: exponent all ones and (mantissa != 0 or sign clear); bf16 likewise
// on the upper half.
void scan_row_f32(const uint32_t* p, int64_t v, bool* bad, bool* live) {
  uint32_t b = 0, l = 0;
  for (int64_t j = 0; j < v; ++j) {
    uint32_t u = p[j];
    b |= static_cast<uint32_t>((u & 0x7fffffffu) > 0x7f800000u) | static_cast<uint32_t>(u == 0x7f800000u);
    l |= static_cast<uint32_t>(u != 0xff800000u);
  }
  *bad = b != 0;
  *live = l != 0;
}

void scan_row_bf16(const uint16_t* p, int64_t v, bool* bad, bool* live) {
  uint32_t b = 0, l = 0;
  for (int64_t j = 0; j < v; ++j) {
    uint32_t u = p[j];
    b |= static_cast<uint32_t>((u & 0x7fffu) > 0x7f80u) | static_cast<uint32_t>(u == 0x7f80u);
    l |= static_cast<uint32_t>(u != 0xff80u);
  }
  *bad = b != 0;
  *live = l != 0;
}

}  // namespace

// Rows whose target is ignored are not scanned: the kernels never read them (their outputs and gradients are
// 0), so a NaN there cannot reach any result.
void check_logits_values(const char* what, const void* data, DType dt, int64_t n, int64_t v,
                         const int32_t* targets) {
  FirstBad bad_row_value, dead_row;
  parallel_for(n, std::max<int64_t>(1, 65536 / std::max<int64_t>(v, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      if (targets && targets[t] < 0) continue;
      bool bad = false, live = false;
      if (dt == DType::F32)
        scan_row_f32(static_cast<const uint32_t*>(data) + t * v, v, &bad, &live);
      else
        scan_row_bf16(static_cast<const uint16_t*>(data) + t * v, v, &bad, &live);
      if (bad) bad_row_value.note(t);
      if (!live && v > 0) dead_row.note(t);
    }
  });
  int64_t r = bad_row_value.at.load();
  if (r != std::numeric_limits<int64_t>::max()) {
    int64_t j = 0;  // locate the first bad column of the first bad row for the message (one row, slow path)
    for (; j < v; ++j) {
      float x = load(data, dt, r * v + j);
      if (std::isnan(x) || x == std::numeric_limits<float>::infinity()) break;
    }
    float x = load(data, dt, r * v + j);
    throw ValueError(std::string(what) + ": expected no NaN or +Infinity (-Infinity is allowed), found " +
                     (std::isnan(x) ? "NaN" : "+Infinity") + " at row " + std::to_string(r) + ", column " +
                     std::to_string(j));
  }
  int64_t d = dead_row.at.load();
  if (d != std::numeric_limits<int64_t>::max())
    throw ValueError(std::string(what) + ": row " + std::to_string(d) +
                     " is entirely -Infinity but its target is not ignored (log-softmax undefined)");
}

void check_forward_rows(const char* what, const void* data, DType dt, int64_t n, int64_t v, const int32_t* targets,
                        const float* lse) {
  for (int64_t t = 0; t < n; ++t) {
    if (targets && targets[t] < 0) continue;
    const float l = lse[t];
    if (std::isnan(l) || l == std::numeric_limits<float>::infinity()) {
      // Only this row is read again, to name the offending column.
      for (int64_t j = 0; j < v; ++j) {
        float x = load(data, dt, t * v + j);
        if (std::isnan(x) || x == std::numeric_limits<float>::infinity())
          throw ValueError(std::string(what) + ": expected no NaN or +Infinity (-Infinity is allowed), found " +
                           (std::isnan(x) ? "NaN" : "+Infinity") + " at row " + std::to_string(t) + ", column " +
                           std::to_string(j));
      }
      throw ValueError(std::string(what) + ": row " + std::to_string(t) + " produced a non-finite log-sum-exp");
    }
    if (l == -std::numeric_limits<float>::infinity())
      throw ValueError(std::string(what) + ": row " + std::to_string(t) +
                       " is entirely -Infinity but its target is not ignored (log-softmax undefined)");
  }
}

void check_finite(const char* what, const void* data, DType dt, int64_t count) {
  FirstBad bad;
  parallel_for(count, 65536, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (!std::isfinite(load(data, dt, i))) {
        bad.note(i);
        break;
      }
  });
  int64_t i = bad.at.load();
  if (i != std::numeric_limits<int64_t>::max()) {
    float x = load(data, dt, i);
    throw ValueError(std::string(what) + ": expected finite values, found " +
                     (std::isnan(x) ? "NaN" : (x > 0 ? "+Infinity" : "-Infinity")) + " at index " +
                     std::to_string(i));
  }
}

}  // namespace stepwise::napi

namespace stepwise::napi {

void check_targets(const Args& args, const Array& targets, const Array& steps, int64_t n, int64_t v,
                   int64_t num_steps) {
  if (n == 0) return;
  if (!targets.check) args.range_error("targets", "a device tensor without a host mirror cannot be validated");
  if (steps.present && !steps.check)
    args.range_error("stepIndex", "a device tensor without a host mirror cannot be validated");
  const int32_t* tg = static_cast<const int32_t*>(targets.check);
  const int32_t* st = steps.present ? static_cast<const int32_t*>(steps.check) : nullptr;
  for (int64_t t = 0; t < n; ++t) {
    if (tg[t] >= v)
      args.range_error("targets", "targets[" + std::to_string(t) + "] = " + std::to_string(tg[t]) +
                                      " is out of range: expected 0 <= target < vocabSize (" + std::to_string(v) +
                                      ") or negative (ignored)");
    if (!st) continue;
    if (st[t] < -1 || st[t] >= num_steps)
      args.range_error("stepIndex", "stepIndex[" + std::to_string(t) + "] = " + std::to_string(st[t]) +
                                        " is out of range: expected -1 <= step < numSteps (" +
                                        std::to_string(num_steps) + ")");
    if (tg[t] < 0 && st[t] != -1)
      args.range_error("stepIndex", "stepIndex[" + std::to_string(t) + "] = " + std::to_string(st[t]) +
                                        " but targets[" + std::to_string(t) +
                                        "] is negative (ignored): ignored tokens must have step -1");
  }
}

void check_offsets(const Args& args, const Array& offsets, int64_t total) {
  if (!offsets.check) args.range_error("offsets", "a device tensor without a host mirror cannot be validated");
  const int64_t* o = static_cast<const int64_t*>(offsets.check);
  int64_t m = offsets.length;
  if (m < 1) args.range_error("offsets", "expected at least one element (offsets[0] = 0)");
  if (o[0] != 0) args.range_error("offsets", "expected offsets[0] = 0, got " + std::to_string(o[0]));
  for (int64_t s = 1; s < m; ++s)
    if (o[s] < o[s - 1])
      args.range_error("offsets", "expected non-decreasing offsets, got offsets[" + std::to_string(s) + "] = " +
                                      std::to_string(o[s]) + " < offsets[" + std::to_string(s - 1) +
                                      "] = " + std::to_string(o[s - 1]));
  if (o[m - 1] != total)
    args.range_error("offsets", "expected the last offset to equal rewards.length (" + std::to_string(total) +
                                    "), got " + std::to_string(o[m - 1]));
}

}  // namespace stepwise::napi
