// libFuzzer target for the stream shape parsers (video/counting.hpp) and
// what consumes their output: the first line of the input is JSON
// {"lines": ..., "zones": ...}; the bytes after it become detections, four
// floats and a score each, fed frame by frame to the tracker and counter.
// Whatever the input: parse errors are ApiError(400) only, nothing
// crashes, and the counts serialise.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_video_shapes -max_total_time=60

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "video/counting.hpp"
#include "video/tracker.hpp"

using namespace osprey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view text = in.substr(0, nl);
  std::string_view rest = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);

  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<video::Line> lines;
  std::vector<video::Zone> zones;
  if (!j.is_discarded() && j.is_object()) {
    for (const char* key : {"lines", "zones"}) {
      auto it = j.find(key);
      if (it == j.end()) continue;
      try {
        if (std::strcmp(key, "lines") == 0) lines = video::parse_lines(*it);
        else zones = video::parse_zones(*it);
      } catch (const ApiError& e) {
        if (e.status() != 400) std::abort();
      }
    }
  }

  video::ByteTracker tracker;
  video::Counter counter(lines, zones);
  constexpr std::size_t kRecord = 5 * sizeof(float) + 1;
  std::vector<inference::Detection> frame;
  for (std::size_t off = 0; off + kRecord <= rest.size(); off += kRecord) {
    float v[5];
    std::memcpy(v, rest.data() + off, sizeof v);
    auto tag = static_cast<unsigned char>(rest[off + sizeof v]);
    frame.push_back({tag % 4, "c" + std::to_string(tag % 4), v[4], {v[0], v[1], v[2], v[3]}});
    if (tag & 0x80) {  // end of a frame
      counter.update(tracker.update(frame));
      frame.clear();
    }
  }
  counter.update(tracker.update(frame));
  auto out = counter.to_json().dump();
  if (out.empty()) std::abort();
  return 0;
}
