#pragma once
// EventRelay: a relayed stream's events, from the bytes of the upstream's
// reads to StreamCallbacks::on_event. It parses them (SseParser), stops at
// [DONE], and scrubs an echo of the server's keys (KeyRing::redact). One per
// stream attempt, fed after each read of the upstream's body:
//
//   EventRelay events(ring, callbacks, cfg.max_response_bytes);  // the attempt's KeyRing
//   std::size_t n = events.feed(read);  // std::length_error: an oversized event
//   if (events.error()) ...on_event threw: end the stream
//   if (events.done()) ...[DONE] arrived
//
// The key is looked for once in each read; only an event that did not lie
// whole in it (it began in an earlier read) is looked at on its own, so an
// echo split between two reads is scrubbed too.

#include <cstddef>
#include <exception>
#include <string_view>

#include "gateway/gateway.hpp"
#include "gateway/key_ring.hpp"
#include "gateway/sse.hpp"

namespace osprey::gateway {

class EventRelay {
 public:
  EventRelay(const KeyRing& keys, const StreamCallbacks& callbacks, std::size_t max_event_bytes)
      : keys_(keys), callbacks_(callbacks), sse_(max_event_bytes) {}

  // Gives on_event the events these bytes complete; returns how many they
  // completed ([DONE] included). None is passed on after [DONE] or after
  // on_event threw.
  std::size_t feed(std::string_view read);

  bool done() const { return done_; }
  std::exception_ptr error() const { return error_; }

 private:
  const KeyRing& keys_;
  const StreamCallbacks& callbacks_;
  SseParser sse_;
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace osprey::gateway
