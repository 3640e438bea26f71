// libFuzzer target for inference/onnx_rewrite, which parses every .onnx in
// the models folder before OpenCV sees it: a corrupt or hostile file must
// throw std::runtime_error, never crash, hang or exhaust memory. When the
// bytes do get rewritten, the result must list what was applied and must
// parse again (the writer emits well-formed protobuf). Anything else aborts.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_onnx_rewrite -max_total_time=60
// Seeds: seeds/onnx_rewrite, tiny graphs each rule matches (per-channel int8
// and per-tensor uint8 ConvInteger chains, a Detect-head stride constant).

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "inference/onnx_rewrite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using osprey::inference::rewrite_for_opencv;
  osprey::inference::OnnxRewrite rw;
  try {
    rw = rewrite_for_opencv(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (rw.model.empty() != rw.applied.empty()) std::abort();
  if (!rw.model.empty()) {
    try {
      rewrite_for_opencv(rw.model);
    } catch (const std::runtime_error&) {
      std::abort();  // the rewrite wrote bytes it cannot read back
    }
  }
  return 0;
}
