// Run-time CPU dispatch: kernels compiled with -mavx2 -mfma live in *_avx2.cc files (CMake gives only those
// files the flags) and are called only when the running CPU has both; everything else is portable.
// STEPWISE_PORTABLE_KERNELS=1 forces the portable path (the tests use it to check the fallback).
#pragma once
#include <cstdlib>
#include <cstring>

namespace stepwise {

inline bool force_portable_kernels() {
  static const bool forced = [] {
    const char* s = std::getenv("STEPWISE_PORTABLE_KERNELS");
    return s != nullptr && std::strcmp(s, "") != 0 && std::strcmp(s, "0") != 0;
  }();
  return forced;
}

inline bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok && !force_portable_kernels();
#else
  return false;
#endif
}

}  // namespace stepwise
