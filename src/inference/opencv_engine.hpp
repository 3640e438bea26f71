#pragma once
// OpenCV 4.6 DNN engine for Darknet (.cfg + .weights) and ONNX files.
//
// OpenCV 4.6 workaround (models/README.md "OpenCV 4.6 miscomputes
// yolo11n_dequant.onnx"): a plain forward() fuses away the scalar Mul that
// follows a two-input MatMul (attention q^T k * scale), so the Softmax runs on
// unscaled logits. Requesting the MatMul's output alongside the real output
// prevents the fusion. `extra_outputs` lists those layers (found generically
// by read_onnx_info().scaled_matmuls); forward() requests them first and
// returns the LAST blob. The cost is not measurable.

#include <memory>
#include <string>
#include <vector>

#include "inference/engine.hpp"

namespace osprey::inference {

struct OpenCvLoad {
  std::string model_path;    // .onnx, or the Darknet .cfg
  std::string weights_path;  // Darknet .weights ("" for ONNX)
  std::vector<std::string> scaled_matmuls;  // ONNX node names (workaround)
  // ONNX only: the file rewritten for OpenCV 4.6 (onnx_rewrite.hpp), read
  // instead of model_path when not empty.
  std::string onnx_bytes;
};

// Throws std::runtime_error (with OpenCV's message) if readNet fails.
std::unique_ptr<Engine> make_opencv_engine(const OpenCvLoad& req);

}  // namespace osprey::inference
