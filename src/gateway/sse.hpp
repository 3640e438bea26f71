#pragma once
// SseParser: incremental Server-Sent Events parser (WHATWG "event stream
// interpretation"), robust to any split of the input: bytes may arrive one
// at a time, a CRLF may be split across reads, a multi-byte character may be
// cut in half. feed() gives the events completed by the new bytes.
//
//   SseParser p;
//   // for each chunk read from the socket:
//   p.feed(chunk, [&](const SseEvent& e) { relay(e.data); });
//
// Lines end with LF, CRLF or CR. "data:" lines are joined with '\n'; a
// leading space after the colon is dropped; lines starting with ':' are
// comments; an empty line dispatches the event (events with no data lines
// are dropped, as the spec says). `max_event_bytes` bounds the bytes buffered
// for one event: beyond it feed() throws std::length_error (a hostile or
// broken upstream must not make us buffer without limit).
//
// No copies on the common path: an event's data is a view, into the bytes
// given to feed() when its one data line lay whole in them (a relayed
// stream's events nearly always do), else into the parser's own storage.
// So the views hold until the next feed() call, and no longer than those
// bytes: use or copy the events before reading more into the same buffer.
// Nor a container of events: each goes to the callback as it completes.

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <type_traits>

namespace osprey::gateway {

struct SseEvent {
  std::string event;      // "event:" field, empty if none ("message")
  std::string_view data;  // see above for how long it holds
  std::string id;
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 8 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}

  // Calls on_event(const SseEvent&) for each event these bytes complete,
  // in order. After a throw (its own length_error, or one from on_event),
  // the parser starts afresh.
  template <class F>
  void feed(std::string_view bytes, F&& on_event) {
    using Fn = std::remove_reference_t<F>;
    feed(bytes, Sink{&on_event, [](void* f, const SseEvent& e) { (*static_cast<Fn*>(f))(e); }});
  }

 private:
  struct Sink {
    void* target;
    void (*call)(void* target, const SseEvent& e);
  };
  void feed(std::string_view bytes, Sink sink);
  void scan(std::string_view bytes, Sink sink);
  void line(std::string_view l, Sink sink);
  // Makes the event being built own its data (it grows, or outlives the
  // bytes it points into).
  void own_data();

  std::string partial_;         // an incomplete line
  bool skip_lf_ = false;        // last byte was CR: a following LF belongs to it
  bool has_data_ = false;
  SseEvent current_;
  // Data the views of this feed()'s events (and of the event being built)
  // point into. A list: adding a string moves none of the others, and an
  // empty one allocates nothing (a stream rarely needs any).
  std::list<std::string> store_;
  std::string* owned_ = nullptr;  // the event being built's data, when it owns it
  std::size_t max_event_bytes_;
};

}  // namespace osprey::gateway
