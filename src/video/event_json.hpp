#pragma once
// The JSON that both video faces send for a processed frame (a stream's
// SSE events, the WebSocket's answers), so that a client reads one shape:
//
//   json j = {{"frame", n}, {"detections", tracked_json(tracked)}, {"timings", timings_json(t, latency_ms)}};
//
// Numbers are rounded as /v1/detect rounds them: confidences to 1e-4,
// pixels to 0.01, milliseconds to 0.001.

#include <vector>

#include <nlohmann/json.hpp>

#include "inference/detection.hpp"
#include "video/tracker.hpp"

namespace osprey::video {

// v rounded to a multiple of `unit` (a power of ten), printing short.
double round_to(double v, double unit);

// [{label, class_id, confidence, track_id, box: {x1, y1, x2, y2}}]
nlohmann::json tracked_json(const std::vector<TrackedObject>& objects);

// {queue_ms, preprocess_ms, inference_ms, postprocess_ms, latency_ms}
nlohmann::json timings_json(const inference::Timings& t, double latency_ms);

}  // namespace osprey::video
