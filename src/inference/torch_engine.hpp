#pragma once
// libtorch 1.13 TorchScript engine. This header is torch-free: torch headers
// are included by torch_engine.cpp only (the slowest file to compile). When
// the build has no torch (OSPREY_WITH_TORCH=OFF), torch_absent.cpp provides
// these functions and torch_available() is false.
//
// The traced files take exactly [1,3,640,640] (fixed shapes, batch 1); a
// yolov5 export returns a tuple holding one tensor, v8/v11 a plain tensor:
// forward() accepts both and returns the first tensor.

#include <memory>
#include <string>

#include "inference/engine.hpp"

namespace osprey::inference {

bool torch_available();

// Loads `path` with torch::jit::load on CPU in eval mode. `config_txt`, if
// non-null, receives the extra file config.txt (Ultralytics metadata JSON;
// "" when absent). With `bf16` the module's weights and every forward's
// input are bfloat16 (the output comes back as float). Throws
// std::runtime_error with torch's message.
std::unique_ptr<Engine> make_torch_engine(const std::string& path, std::string* config_txt, bool bf16 = false);

// at::set_num_threads(n) and, once per process, at::set_num_interop_threads(1).
void torch_set_threads(int n);

}  // namespace osprey::inference
