#include "gateway/event_relay.hpp"

#include <functional>

namespace osprey::gateway {

std::size_t EventRelay::feed(std::string_view read) {
  // An upstream may echo our key inside an event (an error chunk): scrub it
  // like any other body.
  const bool read_echoes = keys_.echoed_in(read);
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
      // A named event ("event: response.created") goes to on_named_event
      // when the caller relays names (the Responses API's typed events).
      auto deliver = [&](std::string_view data) {
        if (callbacks_.on_named_event)
          callbacks_.on_named_event(e.event, data);
        else
          callbacks_.on_event(data);
      };
      if ((read_echoes || !in_read(e.data)) && keys_.echoed_in(e.data)) {
        deliver(keys_.redact(e.data));
      } else {
        deliver(e.data);
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  });
  return count;
}

}  // namespace osprey::gateway
