#pragma once
// onnx_rewrite: load-time ONNX graph rewrites that let OpenCV 4.6 DNN run
// stock graphs it otherwise rejects. No protobuf library: a minimal
// wire-format reader (as in onnx_info.cpp) plus a writer. Everything a rule
// does not touch is copied byte for byte.
//
//   OnnxRewrite rw = rewrite_file_for_opencv(path);   // or rewrite_for_opencv(bytes)
//   for (const auto& what : rw.applied) spdlog::info("{}", what);
//   cv::dnn::Net net = rw.model.empty()
//       ? cv::dnn::readNetFromONNX(path)
//       : cv::dnn::readNetFromONNX(rw.model.data(), rw.model.size());
//
// Rules (exact matching conditions and why they are safe: onnx_rewrite.cpp):
//  1. onnxruntime quantize_dynamic chains
//       DynamicQuantizeLinear(x) -> ConvInteger(xq, Wq, x_zp, W_zp) -> Cast(float)
//         -> Mul(x_scale * W_scale) [-> Add(per-channel bias)]
//     become one fp32 Conv(x, (Wq - W_zp) * W_scale [, bias]) with the
//     ConvInteger's attributes and the chain's last output name. W_scale and
//     W_zp may be per-tensor or per-output-channel. OpenCV 4.6 has no
//     DynamicQuantizeLinear. Nodes, initializers and value_info that only
//     served the removed nodes are dropped.
//  2. The Ultralytics Detect head's stride constant [1,A], multiplied with the
//     [1,4,A] box tensor, is materialised to [1,4,A]: OpenCV 4.6 cannot
//     broadcast it (it asserts in shape_utils.hpp total() at the first forward).
// The declared opset and IR version are left alone: OpenCV 4.6 computes the
// rewritten opset-20 yolov8n graph exactly as the opset-17 file (tested).
//
// A file no rule applies to comes back with `model` empty. Throws
// std::runtime_error on malformed input; every length and count in the bytes
// is treated as hostile.

#include <string>
#include <string_view>
#include <vector>

namespace osprey::inference {

struct OnnxRewrite {
  std::string model;                 // the rewritten ModelProto; empty if nothing changed
  std::vector<std::string> applied;  // what was done, one line per rule, for the log
};

OnnxRewrite rewrite_for_opencv(std::string_view model_bytes);

// Reads the file (throws std::runtime_error if it cannot) and rewrites it.
OnnxRewrite rewrite_file_for_opencv(const std::string& path);

}  // namespace osprey::inference
