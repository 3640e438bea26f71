#include "gateway/event_relay.hpp"

#include <functional>

namespace osprey::gateway {

std::size_t EventRelay::feed(std::string_view read) {
  // An upstream may echo our key inside an event (an error chunk): scrub it
  // like any other body.
  const bool read_echoes = gateway_.echoes_key(read);
  auto in_read = [&read](std::string_view d) {
    return std::less_equal<>()(read.data(), d.data()) &&
           std::less_equal<>()(d.data() + d.size(), read.data() + read.size());
  };
  std::size_t count = 0;
  sse_.feed(read, [&](const SseEvent& e) {
    ++count;
    if (done_ || error_) return;
    if (e.data == "[DONE]") {
      done_ = true;
      return;
    }
    try {
      if ((read_echoes || !in_read(e.data)) && gateway_.echoes_key(e.data)) {
        callbacks_.on_event(gateway_.redact(e.data));
      } else {
        callbacks_.on_event(e.data);
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  });
  return count;
}

}  // namespace osprey::gateway
