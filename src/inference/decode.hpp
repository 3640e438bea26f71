#pragma once
// Output decoding per family, then class-wise NMS. Pure functions: no engine,
// no threads; unit-testable with hand-made tensors.
//
//   family   raw output       row layout
//   darknet  [1,N,85]         cx,cy,w,h normalised 0..1, obj, 80 class scores
//                             that OpenCV has ALREADY multiplied by obj
//   yolov5   [1,N,85]         cx,cy,w,h input px, obj, 80 cls; score obj*cls
//   yolov8   [1,84,N]         transposed: cx,cy,w,h input px, 80 cls; score max cls
//   yolox    [1,N,85]         tx,ty,tw,th raw grid offsets (strides 8,16,32,
//                             row-major), obj, 80 cls; score obj*cls
//
//   auto dets = decode(out, "yolov8", 640, 640, lb, params, labels);

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "inference/detection.hpp"
#include "inference/preprocess.hpp"

namespace osprey::inference {

struct DecodeParams {
  float confidence = 0.25f;
  float iou = 0.45f;
  int max_detections = 300;
  std::vector<int> classes;  // empty = all
  bool multi_label = false;
  int max_candidates = 100000;  // cap before NMS (bounds the work of a conf-0 request)
};

// `out` is the raw float output with the shape above. Throws
// std::invalid_argument when the shape does not fit the family.
std::vector<Detection> decode(const cv::Mat& out, const std::string& family, int input_width,
                              int input_height, const Letterbox& lb, const DecodeParams& p,
                              const std::vector<std::string>& labels);

// Greedy NMS per class over candidates sorted by confidence (desc). Returns
// the kept indices, in confidence order.
std::vector<int> nms_per_class(const std::vector<Detection>& sorted, float iou, int max_keep);

float iou(const Box& a, const Box& b);

}  // namespace osprey::inference
