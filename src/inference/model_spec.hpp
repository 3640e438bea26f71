#pragma once
// ModelSpec: what to load for one repository folder, before loading it.
//
// make_spec() looks at the files (format), reads model.toml if present, then
// applies the request's overrides on top (same keys; see model_registry.hpp).
// What it cannot know yet (family, input size when the file does not say)
// stays empty/0 and is settled by the loader from the file and its outputs.
//
//   ModelSpec s = make_spec("/models/yolov8n", "yolov8n", nlohmann::json::object());

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osprey::inference {

struct ModelSpec {
  std::string name, dir;
  std::string format;  // "darknet" | "onnx" | "torchscript"
  std::string engine;  // "opencv" | "libtorch"
  std::string family;  // "" = infer from the output shape
  std::string model_path, weights_path;  // weights only for Darknet
  std::string names_file;                // "" = none (use embedded names)
  int input_width = 0, input_height = 0;  // 0 = from the file
  float confidence = 0.25f, iou = 0.45f;
  // Arithmetic of the forward pass (libtorch only): "fp32", "bf16", or
  // "auto" (bf16 where the CPU has native bf16 instructions, else fp32).
  std::string precision = "auto";
  // Dynamic batching (inference/batcher.hpp): "auto" batches where a batched
  // forward measured at load beats forwards side by side, "on" always,
  // "off" never. max_batch 0 = the server's inference.max_batch; the
  // registry caps it by its worker count and sets batch_delay_us.
  std::string batching = "auto";
  int max_batch = 0;
  int batch_delay_us = 2000;
};

// A setting with a bad value. `key` names the offending setting.
struct SpecError : std::invalid_argument {
  SpecError(std::string key, const std::string& msg) : std::invalid_argument(msg), key(std::move(key)) {}
  std::string key;
};

// Throws SpecError for a bad value in `overrides` or model.toml (the message
// says which), std::runtime_error for a folder with no usable model file.
// `precision` is the server's default for TorchScript models that set none.
ModelSpec make_spec(const std::filesystem::path& dir, const std::string& name, const nlohmann::json& overrides,
                    const std::string& precision = "auto");

// Validates the override object alone (keys and types), so a request can get
// its 400 before anything is loaded. Throws SpecError.
void validate_overrides(const nlohmann::json& overrides);

// One name per line; blank trailing lines dropped, '\r' stripped.
std::vector<std::string> read_names_file(const std::string& path);

// Darknet .cfg: width/height of the [net] section (0 if absent).
std::pair<int, int> darknet_input_size(const std::string& cfg_path);

// A model name is a folder name: [A-Za-z0-9._-]{1,128}, not "." or "..".
bool valid_model_name(std::string_view name);

}  // namespace osprey::inference
