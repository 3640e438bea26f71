#include "http/wire.hpp"

#include <charconv>
#include <cstring>

namespace osprey::http {

bool bodyless(const Response& res) {
  auto code = res.result_int();
  return code < 200 || code == 204 || code == 304;
}

namespace {
void write_head_impl(const Response& res, std::string& out, bool add_length, std::string_view extra) {
  std::string_view reason = res.reason();
  if (reason.empty()) reason = beast_http::obsolete_reason(res.result());
  // Sized once, then written through a pointer: appends (a capacity check
  // and a length update each, four per field) cost more than the copying.
  std::size_t size = 9 + 10 + 1 + reason.size() + 2 + 2 + (add_length ? 16 + 20 + 2 : 0) + extra.size();
  for (const auto& f : res) size += f.name_string().size() + 2 + f.value().size() + 2;
  out.resize(size);
  char* p = out.data();
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // data() may be null, which memcpy may not be given
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  p = std::to_chars(p, p + 10, res.result_int()).ptr;  // an unsigned fits in 10 digits
  *p++ = ' ';
  put(reason);
  put("\r\n");
  for (const auto& f : res) {
    put(f.name_string());
    put(": ");
    put(f.value());
    put("\r\n");
  }
  if (add_length) {
    // Framing from the body itself: cheaper than storing the field first.
    put("Content-Length: ");
    p = std::to_chars(p, p + 20, res.body().size()).ptr;
    put("\r\n");
  }
  put(extra);
  put("\r\n");
  out.resize(static_cast<std::size_t>(p - out.data()));
}
}  // namespace

void write_head(const Response& res, std::string& out) {
  write_head_impl(res, out, !bodyless(res) && !chunked(res) && !has_field(res, Field::content_length), {});
}

void write_head(const Response& res, std::string& out, std::string_view framing_fields) {
  write_head_impl(res, out, false, framing_fields);
}

BodyParts body_view(const Response& res, std::string& framing) {
  const std::string& body = res.body();
  if (bodyless(res)) return {};
  if (!chunked(res)) {
    if (body.empty()) return {};
    return {{std::string_view(body)}, 1};
  }
  // One chunk with the whole body, then the last chunk (an empty body is
  // just the last chunk: a zero-size chunk would end the message early).
  framing.clear();
  if (!body.empty()) {
    char hex[20];
    auto [end, ec] = std::to_chars(hex, hex + sizeof hex, body.size(), 16);
    framing.append(hex, end);
    framing.append("\r\n");
  }
  std::size_t prefix = framing.size();
  framing.append(body.empty() ? "0\r\n\r\n" : "\r\n0\r\n\r\n");
  std::string_view f(framing);
  if (body.empty()) return {{f}, 1};
  return {{f.substr(0, prefix), std::string_view(body), f.substr(prefix)}, 3};
}

}  // namespace osprey::http
