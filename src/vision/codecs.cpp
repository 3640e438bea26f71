#include "vision/codecs.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>

#include "common/plugin.hpp"
#include "vision/codecs_plugin.hpp"

namespace osprey::vision {

namespace {

struct Codecs {
  std::string error;
  decltype(&osprey_codecs_decode) decode = nullptr;
  decltype(&osprey_codecs_encode_png) encode_png = nullptr;
};

const Codecs& codecs() {
  static std::once_flag once;
  static Codecs c;
  std::call_once(once, [] {
    auto m = plugin::open("libosprey_codecs.so", "OSPREY_CODECS_PLUGIN", OSPREY_CODECS_PLUGIN_BUILD_PATH);
    if (!m.handle) {
      c.error = "image codecs unavailable: " + m.error;
      spdlog::error("vision: {}", c.error);
      return;
    }
    auto abi = plugin::symbol<decltype(&osprey_codecs_abi)>(m, "osprey_codecs_abi");
    c.decode = plugin::symbol<decltype(c.decode)>(m, "osprey_codecs_decode");
    c.encode_png = plugin::symbol<decltype(c.encode_png)>(m, "osprey_codecs_encode_png");
    if (!abi || !c.decode || !c.encode_png || abi() != kCodecsPluginAbi) {
      c.error = "image codecs plugin " + m.path + " is from another build (ABI mismatch); rebuild it";
      c.decode = nullptr;
      c.encode_png = nullptr;
      spdlog::error("vision: {}", c.error);
      return;
    }
    spdlog::info("vision: image codecs plugin loaded from {}", m.path);
  });
  return c;
}

const Codecs& require() {
  const auto& c = codecs();
  if (!c.decode) throw std::runtime_error(c.error);
  return c;
}

}  // namespace

bool codecs_decode(std::string_view bytes, cv::Mat& out) { return require().decode(bytes.data(), bytes.size(), &out); }

bool codecs_encode_png(const cv::Mat& bgr, int level, std::vector<unsigned char>& out) {
  return require().encode_png(&bgr, level, &out);
}

void preload_codecs() { require(); }

}  // namespace osprey::vision
