#include "gateway/sse.hpp"

#include <stdexcept>

namespace osprey::gateway {

void SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  std::size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    if (bytes[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < bytes.size()) {
    std::size_t j = i;
    while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    if (j == bytes.size()) {
      partial_.append(bytes.substr(i));
      if (partial_.size() + current_.data.size() > max_event_bytes_) throw std::length_error("SSE event too large");
      return;
    }
    if (partial_.empty()) {
      line(bytes.substr(i, j - i), out);  // fast path: the whole line is in this read
    } else {
      partial_.append(bytes.substr(i, j - i));
      std::string l = std::move(partial_);
      partial_.clear();
      line(l, out);
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

void SseParser::line(std::string_view l, std::vector<SseEvent>& out) {
  if (l.empty()) {
    if (has_data_) out.push_back(std::move(current_));
    current_ = SseEvent{};
    has_data_ = false;
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
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
    if (current_.data.size() > max_event_bytes_) throw std::length_error("SSE event too large");
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    current_.id.assign(value);
  }
  // "retry" and unknown fields are ignored.
}

}  // namespace osprey::gateway
