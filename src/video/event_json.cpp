#include "video/event_json.hpp"

#include <cmath>

namespace osprey::video {

double round_to(double v, double unit) {
  // Divides by an exact power of ten so the result is the double nearest
  // the decimal: 0.9559, not 0.9559000000000001.
  const double inv = std::round(1.0 / unit);
  return std::round(v * inv) / inv;
}

nlohmann::json tracked_json(const std::vector<TrackedObject>& objects) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : objects)
    out.push_back({{"label", t.label},
                   {"class_id", t.class_id},
                   {"confidence", round_to(t.confidence, 1e-4)},
                   {"track_id", t.track_id},
                   {"box",
                    {{"x1", round_to(t.box.x1, 0.01)},
                     {"y1", round_to(t.box.y1, 0.01)},
                     {"x2", round_to(t.box.x2, 0.01)},
                     {"y2", round_to(t.box.y2, 0.01)}}}});
  return out;
}

nlohmann::json timings_json(const inference::Timings& t, double latency_ms) {
  return {{"queue_ms", round_to(t.queue_ms, 1e-3)},
          {"preprocess_ms", round_to(t.preprocess_ms, 1e-3)},
          {"inference_ms", round_to(t.inference_ms, 1e-3)},
          {"postprocess_ms", round_to(t.postprocess_ms, 1e-3)},
          {"latency_ms", round_to(latency_ms, 1e-3)}};
}

}  // namespace osprey::video
