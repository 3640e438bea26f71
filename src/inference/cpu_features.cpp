#include "inference/cpu_features.hpp"

#include <cpuid.h>

#include <cstdint>

namespace osprey::inference {

namespace {

std::uint64_t xgetbv0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & (1u << 27);
  if (!osxsave) return f;
  // XCR0: SSE (1), AVX (2), opmask + ZMM state (5, 6, 7) enabled by the OS.
  bool os_avx512 = (xgetbv0() & 0xE6) == 0xE6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx512 = os_avx512 && (b & (1u << 16));
  bool amx_bf16 = d & (1u << 22);
  bool amx_tile = d & (1u << 24);
  // XCR0 bits 17, 18: AMX tile config and data (Linux also wants a per-process
  // permission, which oneDNN asks for itself).
  f.amx_bf16 = amx_bf16 && amx_tile && ((xgetbv0() >> 17) & 3) == 3;
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
  return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
  if (!avx512) return "no avx512";
  std::string s = "avx512";
  if (avx512_bf16) s += " avx512_bf16";
  if (amx_bf16) s += " amx_bf16";
  return s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string resolve_precision(const std::string& requested, const CpuFeatures& cpu) {
  if (requested == "auto") return (cpu.avx512_bf16 || cpu.amx_bf16) ? "bf16" : "fp32";
  return requested;
}

}  // namespace osprey::inference
