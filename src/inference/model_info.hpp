#pragma once
// ModelInfo: what the registry knows about one model folder. A snapshot:
// ModelRegistry::list()/info() return copies, so it is safe to keep.
//
// state: "loading"     being (re)loaded; not servable yet
//        "available"   servable
//        "unavailable" failed to load; `reason` says why (never servable)
//        "unloading"   draining its in-flight requests before release

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osprey::inference {

struct ModelInfo {
  std::string name, state /*"loading","available","unavailable","unloading"*/,
      format /*"darknet","onnx","torchscript"*/, engine /*"opencv","libtorch"*/,
      family /*"darknet","yolov5","yolov8","yolox"*/, reason, path;
  int input_width = 0, input_height = 0;
  std::vector<std::string> classes;
  double load_ms = 0;
  std::string loaded_at; /*ISO 8601*/
  float default_confidence = 0.25f, default_iou = 0.45f;
  std::string input_name, output_name;
  std::vector<int64_t> input_shape, output_shape;

  // {"name","state","format","engine","family","reason","path","input_width",
  //  "input_height","classes","load_ms","loaded_at","default_confidence",
  //  "default_iou","input_name","output_name","input_shape","output_shape"}
  nlohmann::json to_json() const;
};

}  // namespace osprey::inference
