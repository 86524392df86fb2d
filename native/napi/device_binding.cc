// DeviceTensor: a handle to CUDA memory (gpu::alloc) so kernel chains need not round-trip through host
// arrays. Explicit dispose() (GC finalisation is late and not guaranteed before exit); the memory itself is
// a shared DeviceBuffer that pending async jobs also hold, so dispose() during a job is safe (freed after).
// Integer tensors (indices, offsets) keep a host mirror so the kernels' index ranges can be validated on the
// host without reading device memory. Objects are recognised by a Node-API type tag, not instanceof, so a
// look-alike JS object can never be unwrapped as one.
#include <cstring>
#include <memory>
#include <string>

#include "args.h"
#include "gpu/gpu.h"
#include "registry.h"

namespace stepwise::napi {
namespace {

const napi_type_tag kDeviceTensorTag = {0x5f3a1c2e9b7d4e01ULL, 0xa4c86e2f1d3b5a77ULL};

size_t elem_size(const std::string& dtype) {
  if (dtype == "f32" || dtype == "i32") return 4;
  if (dtype == "bf16") return 2;
  if (dtype == "i64") return 8;
  if (dtype == "u8") return 1;
  return 0;
}

napi_typedarray_type host_type(const std::string& dtype) {
  if (dtype == "f32") return napi_float32_array;
  if (dtype == "bf16") return napi_uint16_array;
  if (dtype == "i32") return napi_int32_array;
  if (dtype == "i64") return napi_bigint64_array;
  return napi_uint8_array;
}

void require_cuda(Napi::Env env, const char* what) {
  std::string why;
  bool ok = false;
  try {
    ok = gpu::available(&why);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!ok) throw Napi::Error::New(env, std::string(what) + ": CUDA is not usable: " + why);
}

class DeviceTensor : public Napi::ObjectWrap<DeviceTensor> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(
        env, "DeviceTensor",
        {InstanceMethod<&DeviceTensor::Download>("download"), InstanceMethod<&DeviceTensor::Dispose>("dispose"),
         InstanceAccessor<&DeviceTensor::GetDtype>("dtype"), InstanceAccessor<&DeviceTensor::GetLength>("length"),
         InstanceAccessor<&DeviceTensor::GetDevice>("device"),
         InstanceAccessor<&DeviceTensor::GetDisposed>("disposed")});
    exports.Set("DeviceTensor", ctor);
  }

  // new DeviceTensor({ dtype, length, device?, data? }): `data` (a typed array of the dtype's host type and
  // the given length) is uploaded; without it the contents are undefined until a kernel writes them.
  explicit DeviceTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceTensor>(info) {
    Napi::Env env = info.Env();
    info.This().As<Napi::Object>().TypeTag(&kDeviceTensorTag);
    if (info.Length() < 1 || !info[0].IsObject())
      throw Napi::TypeError::New(env, "DeviceTensor: expected an options object { dtype, length, device?, data? }");
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Value dt = o.Get("dtype");
    dtype_ = dt.IsString() ? dt.As<Napi::String>().Utf8Value() : "";
    if (elem_size(dtype_) == 0)
      throw Napi::TypeError::New(env, "DeviceTensor: dtype: expected \"f32\", \"bf16\", \"i32\", \"i64\" or \"u8\", got " +
                                          describe(dt));
    Napi::Value len = o.Get("length");
    double l = len.IsNumber() ? len.As<Napi::Number>().DoubleValue() : -1;
    if (!(l >= 0 && l <= 9007199254740991.0) || static_cast<double>(static_cast<int64_t>(l)) != l)
      throw Napi::RangeError::New(env, "DeviceTensor: length: expected a non-negative integer, got " + describe(len));
    length_ = static_cast<int64_t>(l);
    Napi::Value devv = o.Get("device");
    int device = 0;
    if (!devv.IsUndefined()) {
      double d = devv.IsNumber() ? devv.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d < 1024) || static_cast<double>(static_cast<int>(d)) != d)
        throw Napi::RangeError::New(env, "DeviceTensor: device: expected a device ordinal, got " + describe(devv));
      device = static_cast<int>(d);
    }
    Napi::Value data = o.Get("data");
    const void* src = nullptr;
    if (!data.IsUndefined()) {
      if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != host_type(dtype_))
        throw Napi::TypeError::New(env, "DeviceTensor: data: expected the host typed array of dtype " + dtype_ +
                                            ", got " + describe(data));
      napi_typedarray_type type;
      size_t count = 0;
      void* ptr = nullptr;
      napi_value ab;
      size_t offset = 0;
      bool detached = false;
      NAPI_THROW_IF_FAILED_VOID(env, napi_get_typedarray_info(env, data, &type, &count, &ptr, &ab, &offset));
      if (napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached)
        throw Napi::RangeError::New(env, "DeviceTensor: data: its ArrayBuffer is detached");
      if (static_cast<int64_t>(count) != length_)
        throw Napi::RangeError::New(env, "DeviceTensor: data: expected length " + std::to_string(length_) + ", got " +
                                             describe(data));
      src = ptr;
    }
    require_cuda(env, "DeviceTensor");
    if (device >= gpu::device_count())
      throw Napi::RangeError::New(env, "DeviceTensor: device: " + std::to_string(device) + " is not a CUDA device (" +
                                           std::to_string(gpu::device_count()) + " present)");
    auto buf = std::make_shared<DeviceBuffer>();
    buf->device = device;
    buf->bytes = static_cast<size_t>(length_) * elem_size(dtype_);
    try {
      gpu::set_device(device);
      if (buf->bytes > 0) buf->ptr = gpu::alloc(buf->bytes);
      if (src && buf->bytes > 0) gpu::copy_to_device(buf->ptr, src, buf->bytes);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("DeviceTensor: ") + e.what());
    }
    if (src && (dtype_ == "i32" || dtype_ == "i64")) {
      buf->mirror.resize(buf->bytes);
      if (buf->bytes) std::memcpy(buf->mirror.data(), src, buf->bytes);
    }
    accounted_ = static_cast<int64_t>(buf->bytes);
    Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
    buf_ = std::move(buf);
  }

  void Finalize(Napi::Env env) override { Release(env); }

  std::shared_ptr<DeviceBuffer> buffer() const { return buf_; }
  const std::string& dtype() const { return dtype_; }
  int64_t length() const { return length_; }

 private:
  void Release(Napi::Env env) {
    if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
    accounted_ = 0;
    buf_.reset();  // frees now, or when the last pending job using it finishes
  }

  void EnsureLive(Napi::Env env, const char* what) const {
    if (!buf_) throw Napi::Error::New(env, std::string("DeviceTensor.") + what + ": the DeviceTensor was disposed");
  }

  Napi::Value Download(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EnsureLive(env, "download");
    size_t n = static_cast<size_t>(length_);
    Napi::TypedArray out;
    if (dtype_ == "f32") out = Napi::Float32Array::New(env, n);
    else if (dtype_ == "bf16") out = Napi::Uint16Array::New(env, n);
    else if (dtype_ == "i32") out = Napi::Int32Array::New(env, n);
    else if (dtype_ == "i64") out = Napi::BigInt64Array::New(env, n);
    else out = Napi::Uint8Array::New(env, n);
    if (buf_->bytes > 0) {
      try {
        gpu::set_device(buf_->device);
        gpu::synchronize();  // kernels may still be writing this buffer
        void* dst = nullptr;
        napi_typedarray_type type;
        size_t count = 0;
        napi_value ab;
        size_t offset = 0;
        NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, out, &type, &count, &dst, &ab, &offset), Napi::Value());
        gpu::copy_to_host(dst, buf_->ptr, buf_->bytes);
      } catch (const std::exception& e) {
        throw Napi::Error::New(env, std::string("DeviceTensor.download: ") + e.what());
      }
    }
    return out;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Release(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value GetDtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtype_); }
  Napi::Value GetLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(length_));
  }
  Napi::Value GetDevice(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), buf_ ? buf_->device : -1);
  }
  Napi::Value GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !buf_); }

  std::shared_ptr<DeviceBuffer> buf_;
  std::string dtype_;
  int64_t length_ = 0;
  int64_t accounted_ = 0;
};

void Register(Napi::Env env, Napi::Object exports) { DeviceTensor::Register(env, exports); }

}  // namespace

bool device_view(Napi::Env env, Napi::Value v, const std::string& what, DeviceView* out) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kDeviceTensorTag)) return false;
  DeviceTensor* t = DeviceTensor::Unwrap(o);
  if (!t) return false;
  if (!t->buffer()) throw Napi::Error::New(env, what + ": the DeviceTensor was disposed");
  out->buf = t->buffer();
  out->dtype = t->dtype();
  out->length = t->length();
  return true;
}

}  // namespace stepwise::napi

STEPWISE_BINDING(device_tensor, stepwise::napi::Register);
