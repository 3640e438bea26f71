#pragma once
// Wire format of a response head, written by hand instead of through Beast's
// serializer: on small responses (health probes, JSON) the serializer's
// buffer-sequence machinery cost more than the rest of the request.
//
//   std::string head;
//   http::write_head(res, head);          // "HTTP/1.1 200 OK\r\n...\r\n\r\n"
//   auto body = http::body_view(res, framing);  // what follows the head
//
// The head holds the status line and every field of `res` as set (so
// Content-Length, Connection and Transfer-Encoding are whatever prepare_payload
// and keep_alive made them). A chunked response's body is framed as a single
// chunk plus the last chunk; `framing` keeps those bytes alive.

#include <string>
#include <string_view>
#include <array>

#include "http/message.hpp"

namespace osprey::http {

void write_head(const Response& res, std::string& out);

// The buffers to send after the head: the body, chunk-framed if the response
// is chunked. `framing` is scratch space that must outlive the write.
struct BodyParts {
  std::array<std::string_view, 3> part;
  std::size_t count = 0;
};
BodyParts body_view(const Response& res, std::string& framing);

}  // namespace osprey::http
