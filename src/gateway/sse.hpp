#pragma once
// SseParser: incremental Server-Sent Events parser (WHATWG "event stream
// interpretation"), robust to any split of the input: bytes may arrive one
// at a time, a CRLF may be split across reads, a multi-byte character may be
// cut in half. feed() appends every event completed by the new bytes.
//
//   SseParser p;
//   std::vector<SseEvent> events;
//   p.feed(chunk, events);            // for each chunk read from the socket
//   for (auto& e : events) relay(e.data);
//
// Lines end with LF, CRLF or CR. "data:" lines are joined with '\n'; a
// leading space after the colon is dropped; lines starting with ':' are
// comments; an empty line dispatches the event (events with no data lines
// are dropped, as the spec says). `max_event_bytes` bounds the bytes buffered
// for one event: beyond it feed() throws std::length_error (a hostile or
// broken upstream must not make us buffer without limit).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::gateway {

struct SseEvent {
  std::string event;  // "event:" field, empty if none ("message")
  std::string data;
  std::string id;
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 8 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}

  void feed(std::string_view bytes, std::vector<SseEvent>& out);

 private:
  void line(std::string_view l, std::vector<SseEvent>& out);

  std::string partial_;      // an incomplete line
  bool skip_lf_ = false;     // last byte was CR: a following LF belongs to it
  bool has_data_ = false;
  SseEvent current_;
  std::size_t max_event_bytes_;
};

}  // namespace osprey::gateway
