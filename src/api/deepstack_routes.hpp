#pragma once
// DeepStack / CodeProject.AI Server compatible object detection, so that NVR
// software (Blue Iris, Agent DVR, Frigate's deepstack detector, Home
// Assistant integrations) can use Osprey unchanged:
//
//   POST /v1/vision/detection   multipart: image (file), min_confidence (0.4),
//                               model (optional; also ?model=), api_key (optional)
//
//   200 {"success":true, "message":"Found dog, car", "count":2,
//        "predictions":[{"label":"dog","confidence":0.91,
//                        "x_min":131,"y_min":219,"x_max":310,"y_max":540}, ...],
//        "inferenceMs":41, "processMs":57, "analysisRoundTripMs":57,
//        "moduleId":"osprey", "moduleName":"Osprey YOLO", "command":"detect",
//        "executionProvider":"CPU", "canUseGPU":false, "code":200}
//   4xx {"success":false, "error":"...", "code":4xx}
//
// Coordinates are integer pixels of the original image. Field names follow
// the CodeProject.AI API reference (a superset of DeepStack's
// {success, predictions[label, confidence, x_min, y_min, x_max, y_max]}).

#include "config/config.hpp"
#include "http/router.hpp"
#include "inference/model_registry.hpp"

namespace osprey::api {

void add_deepstack_routes(http::Router& router, inference::ModelRegistry& registry, const config::Config& config);

}  // namespace osprey::api
