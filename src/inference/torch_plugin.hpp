#pragma once
// The C entry points of the libtorch plugin (libosprey_torch.so, built from
// torch_engine.cpp), as torch_loader.cpp looks them up with dlsym. Both
// sides are built together by the same compiler, so C++ types (Engine,
// std::string) and exceptions cross the boundary safely; the ABI number
// guards against a stale plugin from another build.

#include <string>

#include "inference/engine.hpp"

#define OSPREY_TORCH_EXPORT __attribute__((visibility("default")))

namespace osprey::inference {
inline constexpr int kTorchPluginAbi = 2;
}

extern "C" {
// kTorchPluginAbi of the build the plugin came from.
int osprey_torch_abi();
// torch::jit::load on CPU, eval mode, in bf16 when `bf16` is non-zero,
// optimize_for_inference. Throws std::runtime_error with torch's message.
// The caller owns the engine.
osprey::inference::Engine* osprey_torch_make_engine(const char* path, std::string* config_txt, int bf16);
// at::set_num_threads(n); inter-op threads 1 (once per process).
void osprey_torch_set_threads(int n);
}
