// Element types the kernels accept, and bf16 <-> fp32 conversion.
// bf16 is stored as uint16_t (the upper half of an IEEE fp32); all arithmetic is done in fp32 or wider.
#pragma once
#include <cstdint>
#include <cstring>

namespace stepwise {

enum class DType : int32_t { F32 = 0, BF16 = 1 };

inline const char* dtype_name(DType t) { return t == DType::F32 ? "float32" : "bfloat16"; }
inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even; NaN stays NaN (quiet bit forced so it cannot round to Inf).
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

}  // namespace stepwise
