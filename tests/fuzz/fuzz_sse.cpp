// libFuzzer target for the gateway's SSE parser: whatever the bytes and
// however they are split, the parser must not crash, must respect its size
// bound, and must produce the same events as when fed all at once.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_sse -max_total_time=60

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/sse.hpp"

using osprey::gateway::SseEvent;
using osprey::gateway::SseParser;

namespace {

// An event's data is a view that lasts one feed(): copied out. Each piece
// is fed from a buffer of its own that is then overwritten, as a socket
// read into one buffer would be, so a view that outlived its bytes shows.
struct Event {
  std::string event, data, id;
  bool operator==(const Event&) const = default;
};

constexpr std::size_t kLimit = 4096;

bool feed_split(std::string_view text, const std::vector<std::size_t>& cuts, std::vector<Event>& all) {
  SseParser p(kLimit);
  std::string buf;
  auto feed = [&](std::string_view piece) {
    buf.assign(piece);
    p.feed(buf, [&all](const SseEvent& e) {
      if (e.data.size() > kLimit) std::abort();
      all.push_back({e.event, std::string(e.data), e.id});
    });
    buf.assign(buf.size(), '\xff');
  };
  try {
    std::size_t prev = 0;
    for (std::size_t c : cuts) {
      feed(text.substr(prev, c - prev));
      prev = c;
    }
    feed(text.substr(prev));
  } catch (const std::length_error&) {
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // First byte: seed for the split points; the rest is the stream.
  unsigned seed = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<Event> whole;
  bool ok_whole = feed_split(text, {}, whole);

  std::vector<std::size_t> cuts;
  for (std::size_t pos = 0; pos < text.size();) {
    seed = seed * 1103515245u + 12345u;
    pos += 1 + (seed >> 16) % 17;
    if (pos < text.size()) cuts.push_back(pos);
  }
  std::vector<Event> split;
  bool ok_split = feed_split(text, cuts, split);

  if (ok_whole && ok_split && whole != split) std::abort();
  return 0;
}
