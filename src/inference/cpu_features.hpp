#pragma once
// What this CPU computes natively, for choosing a model's precision.
//
//   auto cpu = inference::cpu_features();
//   std::string precision = resolve_precision("auto", cpu);   // "bf16" or "fp32"
//
// Read once with cpuid (and xgetbv: the OS must save the AVX-512 state, or
// the instructions fault). bf16 needs AVX512-BF16 or AMX-BF16; on a CPU with
// neither, oneDNN emulates bf16 more slowly than fp32, so "auto" keeps fp32.

#include <string>

namespace osprey::inference {

struct CpuFeatures {
  bool avx512 = false;       // AVX512F with OS support
  bool avx512_bf16 = false;  // AVX512_BF16 (Cooper Lake, Sapphire Rapids, Zen 4)
  bool amx_bf16 = false;     // AMX-BF16 tiles (Sapphire Rapids and later)
  std::string describe() const;  // "avx512 avx512_bf16 amx_bf16" (those present) or "no avx512"
};

const CpuFeatures& cpu_features();

// "fp32" | "bf16" | "auto" -> "fp32" | "bf16". An explicit bf16 is honoured
// even without native support (it is still correct, only slower).
std::string resolve_precision(const std::string& requested, const CpuFeatures& cpu);

}  // namespace osprey::inference
