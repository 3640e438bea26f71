#include "inference/model_info.hpp"

#include <cmath>

#include <fmt/format.h>

namespace osprey::inference {

nlohmann::json ModelInfo::to_json() const {
  nlohmann::json ms = nlohmann::json::object();
  for (auto& [threads, t] : thread_plan.forward_ms) ms[std::to_string(threads)] = std::round(t * 10) / 10;
  nlohmann::json plan{{"instances", thread_plan.instances},
                      {"threads_alone", thread_plan.threads_alone},
                      {"threads_min", thread_plan.threads_min},
                      {"forward_ms", ms}};
  nlohmann::json per_image = nlohmann::json::object();
  for (auto& [n, t] : batching.ms_per_image) per_image[std::to_string(n)] = std::round(t * 10) / 10;
  nlohmann::json batch{{"mode", batching.mode},
                       {"enabled", batching.enabled},
                       {"max_batch", batching.max_batch},
                       {"max_delay_us", batching.max_delay_us},
                       {"reason", batching.reason},
                       {"ms_per_image", per_image}};
  return nlohmann::json{{"name", name},
                        {"state", state},
                        {"format", format},
                        {"engine", engine},
                        {"family", family},
                        {"reason", reason},
                        {"path", path},
                        {"input_width", input_width},
                        {"input_height", input_height},
                        {"classes", classes},
                        {"load_ms", load_ms},
                        {"loaded_at", loaded_at},
                        {"default_confidence", default_confidence},
                        {"default_iou", default_iou},
                        {"input_name", input_name},
                        {"output_name", output_name},
                        {"input_shape", input_shape},
                        {"output_shape", output_shape},
                        {"precision", precision},
                        {"thread_plan", plan},
                        {"batching", batch},
                        {"rewrites", rewrites}};
}

std::string ModelInfo::ThreadPlan::describe() const {
  std::string s = fmt::format("{} instance{} x ", instances, instances == 1 ? "" : "s");
  s += threads_min == threads_alone ? fmt::format("{} thread{}", threads_alone, threads_alone == 1 ? "" : "s")
                                    : fmt::format("{}-{} threads", threads_min, threads_alone);
  if (!forward_ms.empty()) {
    s += " (forward";
    for (size_t i = 0; i < forward_ms.size(); ++i)
      s += fmt::format("{} {:.0f} ms at {}", i ? "," : "", forward_ms[i].second, forward_ms[i].first);
    s += ")";
  }
  return s;
}

std::string ModelInfo::BatchPlan::describe() const {
  std::string s = enabled ? fmt::format("on, up to {} within {} us", max_batch, max_delay_us) : "off";
  if (!reason.empty()) s += " (" + reason + ")";
  return s;
}

}  // namespace osprey::inference
