#pragma once
// The HTTP message types used across Osprey: Beast's string-bodied request and
// response. Include this (not Beast directly) so that <utility> always comes
// before Asio, which g++ 12 needs.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http.hpp>

namespace osprey::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Verb = beast_http::verb;
using Field = beast_http::field;
using Status = beast_http::status;

template <class T>
using Awaitable = boost::asio::awaitable<T>;

// Whether a message has a field, by a walk comparing field codes. Beast's
// own lookups (find, operator[], and so keep_alive(), chunked(),
// has_content_length()) search a set by name, case-insensitively; for the
// handful of fields a message has the walk costs a fraction of that, and
// these questions are asked of every request and response.
template <bool isRequest>
bool has_field(const beast_http::message<isRequest, beast_http::string_body>& m, Field name) {
  for (const auto& f : m)
    if (f.name() == name) return true;
  return false;
}

// Beast's keep_alive(), answered without a lookup when there is no
// Connection field (then HTTP/1.1 keeps the connection, 1.0 does not).
template <bool isRequest>
bool keep_alive(const beast_http::message<isRequest, beast_http::string_body>& m) {
  return has_field(m, Field::connection) ? m.keep_alive() : m.version() >= 11;
}

// Beast's chunked(), the same way (no Transfer-Encoding: not chunked).
template <bool isRequest>
bool chunked(const beast_http::message<isRequest, beast_http::string_body>& m) {
  return has_field(m, Field::transfer_encoding) && m.chunked();
}

}  // namespace osprey::http
