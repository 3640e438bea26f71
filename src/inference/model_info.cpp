#include "inference/model_info.hpp"

namespace osprey::inference {

nlohmann::json ModelInfo::to_json() const {
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
                        {"output_shape", output_shape}};
}

}  // namespace osprey::inference
