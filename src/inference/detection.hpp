#pragma once
// Detection results: what ModelRegistry::detect() returns.
//
//   inference::DetectOptions opts;          // model defaults for conf / IoU
//   opts.classes = {0};                     // only persons
//   auto res = registry.detect_sync("yolov8n", bgr, opts);
//   for (auto& d : res.detections) fmt::print("{} {:.2f}\n", d.label, d.confidence);
//
// Boxes are in pixels of the ORIGINAL image (x1,y1 top-left, x2,y2
// bottom-right), already clipped to it. Detections are sorted by confidence,
// highest first.

#include <string>
#include <vector>

namespace osprey::inference {

struct Box {
  float x1, y1, x2, y2;
};

struct Detection {
  int class_id;
  std::string label;
  float confidence;
  Box box;
};

struct DetectOptions {
  float confidence = -1;  // -1 = model default
  float iou = -1;         // -1 = model default
  int max_detections = 300;
  std::vector<int> classes;  // empty = all
  // Every class whose score passes `confidence` yields a candidate (the mAP
  // protocol); false keeps only the best class per anchor (serving default).
  bool multi_label = false;
};

struct Timings {
  double queue_ms = 0, preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
  int batch = 1;  // images in the forward this one rode in (dynamic batching)
};

struct DetectResult {
  std::vector<Detection> detections;
  Timings timings;
};

}  // namespace osprey::inference
