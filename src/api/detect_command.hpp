#pragma once
// `osprey detect IMAGE --model NAME [--out FILE]`: the /v1/detect pipeline
// offline, for scripts and for checking a model without a server.
//
//   return api::run_detect_command("dog.jpg", "yolov8n-ts", "out.jpg", cfg);
//
// Loads only the named model (or, with an empty name, scans the repository
// and uses the default model), decodes the image exactly as the server does
// (same limits, EXIF orientation, DCT scaling), prints the /v1/detect JSON on
// stdout, and with `out_path` writes the annotated picture (PNG when the name
// ends in .png, JPEG otherwise). Errors go to stderr. Returns the process exit
// code: 0 ok, 1 bad input or model, 2 I/O error.

#include <string>

#include "config/config.hpp"

namespace osprey::api {

int run_detect_command(const std::string& image_path, const std::string& model, const std::string& out_path,
                       const config::Config& config);

}  // namespace osprey::api
