#pragma once
// Wire format of a response head, written by hand instead of through Beast's
// serializer: on small responses (health probes, JSON) the serializer's
// buffer-sequence machinery cost more than the rest of the request.
//
//   std::string head;
//   http::write_head(res, head);          // "HTTP/1.1 200 OK\r\n...\r\n\r\n"
//   auto body = http::body_view(res, framing);  // what follows the head
//
// The head holds the status line and every field of `res` as set, plus
// `Content-Length: <body size>` when the response has neither that field nor
// chunked Transfer-Encoding (so handlers need not call prepare_payload). A
// 1xx, 204 or 304 response gets neither a length nor a body. A chunked
// response's body is framed as a single chunk plus the last chunk;
// `framing` keeps those bytes alive.

#include <string>
#include <string_view>
#include <array>

#include "http/message.hpp"

namespace osprey::http {

void write_head(const Response& res, std::string& out);

// The same, with the body's framing fields given as written lines (e.g.
// "Transfer-Encoding: chunked\r\n"), put after the others in place of a
// Content-Length: a streamed response's head, without Beast rewriting
// token lists in its fields to add them.
void write_head(const Response& res, std::string& out, std::string_view framing_fields);

// 1xx, 204 and 304 responses: no body and no Content-Length (RFC 9110 8.6).
bool bodyless(const Response& res);

// The buffers to send after the head: the body, chunk-framed if the response
// is chunked. `framing` is scratch space that must outlive the write.
struct BodyParts {
  std::array<std::string_view, 3> part;
  std::size_t count = 0;
};
BodyParts body_view(const Response& res, std::string& framing);

}  // namespace osprey::http
