#pragma once
// onnx_info: reads what the loader needs from an .onnx file WITHOUT a protobuf
// library: a minimal wire-format walk over ModelProto that skips the large
// fields (weights) by length. It yields the graph's input/output names and
// shapes, the `names` metadata that Ultralytics embeds, and the attention
// MatMul nodes that need the OpenCV 4.6 workaround (see opencv_engine.hpp).
//
//   OnnxInfo oi = read_onnx_info("yolov8n/yolov8n_dequant.onnx");
//   oi.inputs[0].shape  // {1,3,640,640}
//
// Throws std::runtime_error on a file that cannot be read or is malformed.

#include <cstdint>
#include <string>
#include <vector>

namespace osprey::inference {

struct OnnxValue {
  std::string name;
  std::vector<int64_t> shape;  // -1 for a symbolic or missing dim
};

struct OnnxInfo {
  std::vector<OnnxValue> inputs;   // graph inputs that are not initializers
  std::vector<OnnxValue> outputs;
  std::vector<std::string> names;  // class names from metadata "names", if any
  // Names of two-input MatMul nodes (both operands computed, not weights)
  // whose output feeds a Mul by a scalar constant: the pattern OpenCV 4.6
  // fuses wrongly (drops the scale) unless the MatMul output is requested.
  std::vector<std::string> scaled_matmuls;
};

OnnxInfo read_onnx_info(const std::string& path);

// Parses Ultralytics' names metadata, a Python dict literal
// "{0: 'person', 1: 'bicycle', ...}" (or a list "['person', ...]").
std::vector<std::string> parse_names_literal(const std::string& text);

}  // namespace osprey::inference
