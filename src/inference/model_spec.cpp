#include "inference/model_spec.hpp"

#include <fstream>
#include <set>

#include <toml++/toml.h>

namespace osprey::inference {
namespace fs = std::filesystem;
namespace {

const std::set<std::string> kFamilies = {"darknet", "yolov5", "yolov8", "yolox"};
const std::set<std::string> kEngines = {"opencv", "libtorch"};

nlohmann::json toml_to_json(const toml::table& t) {
  nlohmann::json j = nlohmann::json::object();
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    if (auto s = v.value<std::string>(); s && v.is_string()) j[key] = *s;
    else if (v.is_integer()) j[key] = *v.value<int64_t>();
    else if (v.is_floating_point()) j[key] = *v.value<double>();
    else if (v.is_boolean()) j[key] = *v.value<bool>();
    else throw SpecError(key, "model.toml: '" + key + "' must be a string or a number");
  }
  return j;
}

std::string need_string(const nlohmann::json& v, const std::string& key) {
  if (!v.is_string()) throw SpecError(key, "'" + key + "' must be a string");
  return v.get<std::string>();
}

int need_size(const nlohmann::json& v, const std::string& key) {
  if (!v.is_number_integer() || v.get<int64_t>() < 32 || v.get<int64_t>() > 4096 || v.get<int64_t>() % 32 != 0) {
    throw SpecError(key, "'" + key + "' must be an integer multiple of 32 in [32, 4096]");
  }
  return int(v.get<int64_t>());
}

float need_unit(const nlohmann::json& v, const std::string& key) {
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
    throw SpecError(key, "'" + key + "' must be a number in [0, 1]");
  }
  return float(v.get<double>());
}

// Applies the settings in `j` to `s` (only validating when s is null).
void apply(const nlohmann::json& j, ModelSpec* s, const fs::path& dir) {
  if (!j.is_object()) throw SpecError("", "model config must be an object");
  for (auto& [key, v] : j.items()) {
    if (key == "family") {
      auto f = need_string(v, key);
      if (!kFamilies.count(f)) throw SpecError(key, "'family' must be one of darknet, yolov5, yolov8, yolox");
      if (s) s->family = f;
    } else if (key == "engine") {
      auto e = need_string(v, key);
      if (!kEngines.count(e)) throw SpecError(key, "'engine' must be opencv or libtorch");
      if (s) s->engine = e;
    } else if (key == "input_width") {
      int n = need_size(v, key);
      if (s) s->input_width = n;
    } else if (key == "input_height") {
      int n = need_size(v, key);
      if (s) s->input_height = n;
    } else if (key == "confidence") {
      float c = need_unit(v, key);
      if (s) s->confidence = c;
    } else if (key == "iou") {
      float c = need_unit(v, key);
      if (s) s->iou = c;
    } else if (key == "precision") {
      auto p = need_string(v, key);
      if (p != "fp32" && p != "bf16" && p != "auto") throw SpecError(key, "'precision' must be fp32, bf16 or auto");
      if (s) s->precision = p;
    } else if (key == "batching") {
      auto b = need_string(v, key);
      if (b != "auto" && b != "on" && b != "off") throw SpecError(key, "'batching' must be auto, on or off");
      if (s) s->batching = b;
    } else if (key == "max_batch") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 64) {
        throw SpecError(key, "'max_batch' must be an integer in [1, 64]");
      }
      if (s) s->max_batch = int(v.get<int64_t>());
    } else if (key == "names_file") {
      auto n = need_string(v, key);
      // A file inside the model folder only: no paths from outside input.
      if (n.empty() || n.find('/') != std::string::npos || n.find('\\') != std::string::npos || n == "." ||
          n == "..") {
        throw SpecError(key, "'names_file' must be a file name inside the model folder");
      }
      if (s) {
        if (!fs::is_regular_file(dir / n)) throw SpecError(key, "names_file '" + n + "' does not exist");
        s->names_file = (dir / n).string();
      }
    } else {
      throw SpecError(key, "unknown model setting '" + key +
                               "' (known: family, input_width, input_height, confidence, iou, names_file, engine, precision, "
                               "batching, max_batch)");
    }
  }
}

}  // namespace

bool valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

void validate_overrides(const nlohmann::json& overrides) {
  if (overrides.is_null()) return;
  apply(overrides, nullptr, {});
}

std::vector<std::string> read_names_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> names;
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

std::pair<int, int> darknet_input_size(const std::string& cfg_path) {
  std::ifstream f(cfg_path);
  std::string line;
  bool in_net = false;
  int w = 0, h = 0;
  while (std::getline(f, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::string t;
    for (char c : line) if (!std::isspace(static_cast<unsigned char>(c))) t += c;
    if (t.empty()) continue;
    if (t[0] == '[') {
      if (in_net) break;
      in_net = t == "[net]" || t == "[network]";
      continue;
    }
    if (!in_net) continue;
    try {
      if (t.rfind("width=", 0) == 0) w = std::stoi(t.substr(6));
      if (t.rfind("height=", 0) == 0) h = std::stoi(t.substr(7));
    } catch (const std::exception&) {
    }
  }
  return {w, h};
}

ModelSpec make_spec(const fs::path& dir, const std::string& name, const nlohmann::json& overrides,
                    const std::string& precision) {
  ModelSpec s;
  s.name = name;
  s.dir = dir.string();

  // Settings first: `engine` decides between formats when a folder has several.
  nlohmann::json settings = nlohmann::json::object();
  if (fs::is_regular_file(dir / "model.toml")) {
    try {
      settings = toml_to_json(toml::parse_file((dir / "model.toml").string()));
    } catch (const toml::parse_error& e) {
      throw SpecError("model.toml", std::string("model.toml: ") + std::string(e.description()));
    }
  }
  if (overrides.is_object()) {
    for (auto& [k, v] : overrides.items()) settings[k] = v;
  } else if (!overrides.is_null()) {
    throw SpecError("", "model config must be an object");
  }
  apply(settings, &s, dir);

  std::vector<fs::path> onnx, ts, cfg, weights;
  for (auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension().string();
    if (ext == ".onnx") onnx.push_back(e.path());
    else if (ext == ".torchscript") ts.push_back(e.path());
    else if (ext == ".cfg") cfg.push_back(e.path());
    else if (ext == ".weights") weights.push_back(e.path());
  }
  struct Choice { std::string format, engine; std::vector<fs::path>* files; };
  std::vector<Choice> choices;
  if (!ts.empty()) choices.push_back({"torchscript", "libtorch", &ts});
  if (!onnx.empty()) choices.push_back({"onnx", "opencv", &onnx});
  if (!cfg.empty() && !weights.empty()) choices.push_back({"darknet", "opencv", &cfg});
  if (!s.engine.empty()) {
    std::erase_if(choices, [&](const Choice& c) { return c.engine != s.engine; });
  }
  if (choices.empty()) {
    throw std::runtime_error(s.engine.empty()
                                 ? "no model file (.onnx, .torchscript, or .cfg + .weights) in " + s.dir
                                 : "no model file for engine '" + s.engine + "' in " + s.dir);
  }
  if (choices.size() > 1) {
    throw std::runtime_error("several model formats in " + s.dir + "; set engine in model.toml");
  }
  const Choice& c = choices[0];
  if (c.files->size() > 1) throw std::runtime_error("several " + c.format + " files in " + s.dir);
  s.format = c.format;
  s.engine = c.engine;
  s.model_path = (*c.files)[0].string();
  if (s.format == "darknet") {
    if (weights.size() > 1) {
      // Pair by stem when there are several.
      auto want = (*c.files)[0].stem();
      auto it = std::find_if(weights.begin(), weights.end(), [&](auto& p) { return p.stem() == want; });
      if (it == weights.end()) throw std::runtime_error("several .weights files and none matches the .cfg");
      s.weights_path = it->string();
    } else {
      s.weights_path = weights[0].string();
    }
    if (!s.family.empty() && s.family != "darknet") throw SpecError("family", "a Darknet model has family darknet");
    s.family = "darknet";
  } else if (s.family == "darknet") {
    throw SpecError("family", "family darknet needs a .cfg + .weights model");
  }
  if (!settings.contains("precision") && s.engine == "libtorch") s.precision = precision;
  if (s.precision == "bf16" && s.engine != "libtorch")
    throw SpecError("precision", "precision bf16 needs the libtorch engine (a .torchscript model)");
  if (s.batching == "on" && s.engine != "libtorch")
    throw SpecError("batching", "batching on needs the libtorch engine (a .torchscript model)");
  if (s.names_file.empty() && fs::is_regular_file(dir / "coco.names")) s.names_file = (dir / "coco.names").string();
  return s;
}

}  // namespace osprey::inference
