#pragma once
// UpstreamParser: an HTTP/1.1 response parser for the upstream's answers that
// keeps only what the gateway uses (status, Content-Type, Retry-After,
// retry-after-ms) and writes the body where the caller points it.
//
//   UpstreamParser p;
//   co_await http::async_read_header(stream, buffer, p, ...);
//   p.status, p.content_type ...
//   p.body_data = dst; p.body_room = n;     // before each body read
//   co_await http::async_read_some(stream, buffer, p, ...);
//   // n - p.body_room bytes landed at dst; error::need_buffer when it filled
//
// Why: Beast's response_parser stores every header field in a node of its
// own (an allocation each), and the gateway reads one response per request.
// Framing (Content-Length, chunked, to EOF), limits and keep-alive are
// Beast's basic_parser's, unchanged.

#include <utility>

#include <cstring>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace osprey::gateway {

class UpstreamParser final : public boost::beast::http::basic_parser<false> {
 public:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using field = boost::beast::http::field;

  unsigned status = 0;
  std::string content_type, retry_after, retry_after_ms;
  // Where the next body bytes go, and how many fit (like buffer_body).
  char* body_data = nullptr;
  std::size_t body_room = 0;

 private:
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status = static_cast<unsigned>(code); }
  void on_field_impl(field name, string_view name_string, string_view value, error_code&) override {
    if (name == field::content_type)
      content_type.assign(value.data(), value.size());
    else if (name == field::retry_after)
      retry_after.assign(value.data(), value.size());
    else if (name == field::unknown && boost::beast::iequals(name_string, "retry-after-ms"))
      retry_after_ms.assign(value.data(), value.size());
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override { return take(body, ec); }
  void on_finish_impl(error_code&) override {}

  // Copies what fits; need_buffer tells the reader to come back with room.
  std::size_t take(string_view body, error_code& ec) {
    std::size_t n = std::min(body.size(), body_room);
    if (n > 0) std::memcpy(body_data, body.data(), n);
    body_data += n;
    body_room -= n;
    if (n < body.size()) ec = boost::beast::http::error::need_buffer;
    return n;
  }
};

}  // namespace osprey::gateway
