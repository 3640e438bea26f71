#include "api/detect_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "api/detection_routes.hpp"
#include "common/error.hpp"
#include "vision/annotate.hpp"

namespace osprey::api {

int run_detect_command(const std::string& image_path, const std::string& model, const std::string& out_path,
                       const config::Config& cfg) {
  std::string bytes;
  {
    std::ifstream f(image_path, std::ios::binary);
    if (!f) {
      std::cerr << fmt::format("osprey detect: cannot read '{}'\n", image_path);
      return 2;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    bytes = ss.str();
  }
  try {
    inference::ModelRegistry reg(cfg.inference);
    std::string name = model;
    if (name.empty()) {
      reg.scan();
      name = reg.default_model();
      if (name.empty()) throw ApiError(503, "no detection model is available in " + cfg.inference.models_dir);
    } else {
      reg.load(name, nlohmann::json::object());
    }
    auto info = reg.info(name);
    if (!info || info->state != "available")
      throw ApiError(503, fmt::format("model '{}' is not available{}{}", name, info ? ": " : "",
                                      info ? info->reason : std::string()));

    vision::DecodeOptions dopt;
    dopt.max_pixels = cfg.inference.max_image_pixels;
    // With an annotated output the picture is drawn at full resolution.
    dopt.target_max_side = out_path.empty() ? detection::target_side(*info) : 0;
    auto t0 = std::chrono::steady_clock::now();
    vision::DecodedImage img = vision::decode_image(bytes, dopt);
    const double decode_ms = detection::ms_since(t0);

    inference::DetectResult res = reg.detect_sync(name, img.bgr, {});
    detection::to_original(res.detections, img);
    std::cout << detection::detect_json(name, img, res, decode_ms).dump(2) << std::endl;

    if (!out_path.empty()) {
      std::vector<vision::Annotation> boxes;
      for (const auto& d : res.detections)
        boxes.push_back({d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.label, d.confidence, d.class_id});
      cv::Mat drawn = vision::annotate(img.bgr, boxes);
      const bool png = out_path.size() >= 4 && (out_path.ends_with(".png") || out_path.ends_with(".PNG"));
      std::string encoded = png ? vision::encode_png(drawn) : vision::encode_jpeg(drawn);
      std::ofstream o(out_path, std::ios::binary | std::ios::trunc);
      if (!o || !o.write(encoded.data(), static_cast<std::streamsize>(encoded.size()))) {
        std::cerr << fmt::format("osprey detect: cannot write '{}'\n", out_path);
        return 2;
      }
    }
    return 0;
  } catch (const ApiError& e) {
    std::cerr << fmt::format("osprey detect: {} (HTTP {} {})\n", e.what(), e.status(), e.code());
    return 1;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("osprey detect: {}\n", e.what());
    return 1;
  }
}

}  // namespace osprey::api
