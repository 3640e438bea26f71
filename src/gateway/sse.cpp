#include "gateway/sse.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace osprey::gateway {

void SseParser::feed(std::string_view bytes, Sink sink) {
  // The last call's events are gone: drop their storage, all but that of
  // the event still being built.
  if (owned_) {
    if (store_.size() > 1) {
      std::string keep = std::move(*owned_);
      store_.clear();
      owned_ = &store_.emplace_back(std::move(keep));
    }
    current_.data = *owned_;
  } else {
    store_.clear();
  }
  try {
    scan(bytes, sink);
  } catch (...) {
    // Broken beyond use (the caller drops the stream), or the caller's
    // failure: let nothing point into bytes that are about to go.
    partial_.clear();
    current_ = SseEvent{};
    has_data_ = skip_lf_ = false;
    owned_ = nullptr;
    store_.clear();
    throw;
  }
  // What this call leaves unfinished must outlive `bytes`.
  if (has_data_ && !owned_) own_data();
}

void SseParser::scan(std::string_view bytes, Sink sink) {
  std::size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    if (bytes[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  // Line ends are found with memchr (a relayed event is one line of a few
  // hundred bytes): `lf` and `cr` are the next LF and CR at or after i, each
  // searched for again only once i has passed it, so no byte is looked at
  // more than twice, whichever line ends the input uses.
  const std::size_t n = bytes.size();
  auto next = [&bytes, n](std::size_t from, char c) {
    const void* p = std::memchr(bytes.data() + from, c, n - from);
    return p ? static_cast<std::size_t>(static_cast<const char*>(p) - bytes.data()) : n;
  };
  std::size_t lf = i < n ? next(i, '\n') : n, cr = i < n ? next(i, '\r') : n;
  while (i < n) {
    if (lf < i) lf = next(i, '\n');
    if (cr < i) cr = next(i, '\r');
    // The usual relayed event, whole in these bytes: "data: X\n\n" with
    // nothing else being built. Taken at once, with what line() would do
    // for its two lines (a few hundred instructions less per event).
    if (lf < cr && lf + 1 < n && bytes[lf + 1] == '\n' && !has_data_ && partial_.empty() && current_.event.empty() &&
        current_.id.empty() && bytes.compare(i, 5, "data:") == 0 && lf >= i + 5) {
      std::size_t v = i + 5;
      if (v < lf && bytes[v] == ' ') ++v;
      if (lf - v > max_event_bytes_) throw std::length_error("SSE event too large");
      current_.data = bytes.substr(v, lf - v);
      sink.call(sink.target, current_);
      current_.data = {};
      i = lf + 2;
      continue;
    }
    std::size_t j = std::min(lf, cr);
    if (j == n) {
      partial_.append(bytes.substr(i));
      if (partial_.size() + current_.data.size() > max_event_bytes_) throw std::length_error("SSE event too large");
      return;
    }
    if (partial_.empty()) {
      line(bytes.substr(i, j - i), sink);  // fast path: the whole line is in this read
    } else {
      partial_.append(bytes.substr(i, j - i));
      // Stored: the event's data may end up a view of it.
      std::string& l = store_.emplace_back(std::move(partial_));
      partial_.clear();
      line(l, sink);
    }
    if (bytes[j] == '\r') {
      if (j + 1 < bytes.size()) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        skip_lf_ = true;
      }
    }
    i = j + 1;
  }
}

void SseParser::own_data() {
  if (owned_) return;
  owned_ = &store_.emplace_back(current_.data);
  current_.data = *owned_;
}

void SseParser::line(std::string_view l, Sink sink) {
  if (l.empty()) {
    if (has_data_) sink.call(sink.target, current_);
    current_ = SseEvent{};
    has_data_ = false;
    owned_ = nullptr;  // its storage stays until the next feed()
    return;
  }
  if (l.front() == ':') return;  // comment / keep-alive
  auto colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (!has_data_) {
      current_.data = value;  // a view of this line, wherever it lies
      has_data_ = true;
    } else {
      if (current_.data.size() + 1 + value.size() > max_event_bytes_) throw std::length_error("SSE event too large");
      own_data();
      owned_->push_back('\n');
      owned_->append(value);
      current_.data = *owned_;
    }
    if (current_.data.size() > max_event_bytes_) throw std::length_error("SSE event too large");
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    current_.id.assign(value);
  }
  // "retry" and unknown fields are ignored.
}

}  // namespace osprey::gateway
