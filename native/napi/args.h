// Argument extraction and validation for the kernel bindings. Every raw export takes ONE options object;
// each field is read by name so that every error names the field and what was expected, in the same style
// as the TypeScript layer ("logits: expected a Float32Array of length n*v = 12, got Float32Array(10)").
// Type problems throw Napi::TypeError, size/range/value problems Napi::RangeError. Nothing here aborts.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace stepwise::napi {

// Where the data of one call lives. A call is all-host (typed arrays) or all-device (DeviceTensors).
enum class Loc { Host, Device };

// Element kinds the bindings accept. Float = f32 or bf16 (the kernel's `dtype`).
enum class Kind { F32, Float, I32, I64, U8 };

// GPU memory owned by a DeviceTensor. Shared with every pending job that uses it, so dispose() while an
// async kernel runs only drops the handle's share: the memory is freed when the job is done with it.
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  std::vector<uint8_t> mirror;  // host copy of integer tensors (indices/offsets), so they can be validated
  ~DeviceBuffer();
};

// Implemented in device_binding.cc: the buffer behind a DeviceTensor object, or null if `v` is not one.
// Throws DisposedError-style Napi::Error when the handle was disposed.
struct DeviceView {
  std::shared_ptr<DeviceBuffer> buf;
  std::string dtype;  // "f32" | "bf16" | "i32" | "i64" | "u8"
  int64_t length = 0;
};
bool device_view(Napi::Env env, Napi::Value v, const std::string& what, DeviceView* out);

// One array argument, resolved to a pointer the kernel can use.
struct Array {
  void* data = nullptr;        // host pointer or device pointer
  const void* check = nullptr;  // host-readable copy for validation (host data, or a device mirror); may be null
  int64_t length = 0;
  DType dtype = DType::F32;  // for Kind::Float
  bool present = false;
};

// Thrown from a job's run() when the DATA (not the shapes) is invalid, e.g. NaN in logits. The worker turns
// it into a RangeError (async rejection or sync throw); it is checked off the JS thread because it costs a
// full pass over the input.
struct ValueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Everything one binding call needs: the parsed object, where data lives, and what the job must keep alive.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn);

  Napi::Env env() const { return env_; }
  Napi::Object object() const { return obj_; }
  Loc loc() const { return loc_; }
  int device() const { return device_; }

  // Scalars. int_arg: an integer in [lo, hi]; def_missing < lo... means required.
  int64_t integer(const char* key, int64_t lo, int64_t hi);
  int64_t integer_or(const char* key, int64_t lo, int64_t hi, int64_t def);
  double number_or(const char* key, double def, bool finite = true);
  bool boolean_or(const char* key, bool def);
  // "f32" | "bf16" (default f32) for host float tensors.
  DType dtype_or(const char* key);

  // An input array of `kind` and exact `length` (length < 0: any). Optional arrays may be absent/undefined.
  Array input(const char* key, Kind kind, int64_t length, bool optional = false, DType dtype = DType::F32);
  // An output: taken from the object when given (validated like an input), else allocated on the host and
  // recorded so result() returns it. Device calls must pass their outputs (allocated by the TS layer).
  Array output(const char* key, Kind kind, int64_t length, DType dtype = DType::F32);

  Napi::Object result() const { return result_; }
  // Objects and device buffers the job must keep alive until it finishes.
  std::vector<Napi::Value>& keep() { return keep_; }
  std::vector<std::shared_ptr<DeviceBuffer>>& buffers() { return buffers_; }

  [[noreturn]] void type_error(const std::string& key, const std::string& expected, Napi::Value got) const;
  [[noreturn]] void range_error(const std::string& key, const std::string& msg) const;

 private:
  Array from_value(const char* key, Napi::Value v, Kind kind, int64_t length, DType dtype);
  Napi::Env env_;
  std::string fn_;
  Napi::Object obj_;
  Napi::Object result_;
  Loc loc_ = Loc::Host;
  int device_ = -1;
  std::vector<Napi::Value> keep_;
  std::vector<std::shared_ptr<DeviceBuffer>> buffers_;
};

std::string describe(Napi::Value v);
const char* kind_name(Kind k, DType dtype);

// Data checks run inside jobs (off the JS thread for async calls). They throw ValueError naming the argument.
// Float rows: no NaN, no +Inf; a row whose every element is -Inf is rejected when its target is not ignored.
void check_logits_values(const char* what, const void* data, DType dtype, int64_t n, int64_t v,
                         const int32_t* targets);
// After a step log-prob forward: the kernels make lse[t] NaN when an active row holds NaN or +Infinity, and
// -Infinity when every logit of an active row is -Infinity (kernels.h), so checking lse costs O(n) instead of a
// pass over n*v values; only an offending row is re-read, to name the column.
void check_forward_rows(const char* what, const void* data, DType dtype, int64_t n, int64_t v, const int32_t* targets,
                        const float* lse);

// Every element finite (no NaN, no +-Inf).
void check_finite(const char* what, const void* data, DType dtype, int64_t count);

}  // namespace stepwise::napi

namespace stepwise::napi {
// Index checks that guard memory safety, run on the JS thread before any job: every target in [0, v) or
// negative (ignored, then its step must be -1), every step index in [-1, num_steps). `targets`/`steps` are
// host-readable (typed array data or a DeviceTensor's mirror).
void check_targets(const Args& args, const Array& targets, const Array& steps, int64_t n, int64_t v,
                   int64_t num_steps);
// offsets[0] = 0, non-decreasing, offsets[last] = total.
void check_offsets(const Args& args, const Array& offsets, int64_t total);
}  // namespace stepwise::napi
