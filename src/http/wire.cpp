#include "http/wire.hpp"

#include <charconv>

namespace osprey::http {

bool bodyless(const Response& res) {
  auto code = res.result_int();
  return code < 200 || code == 204 || code == 304;
}

void write_head(const Response& res, std::string& out) {
  out.clear();
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof code, res.result_int());
  out.append(code, end);
  out.push_back(' ');
  std::string_view reason = res.reason();
  if (reason.empty()) reason = beast_http::obsolete_reason(res.result());
  out.append(reason);
  out.append("\r\n");
  for (const auto& f : res) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  if (!bodyless(res) && !chunked(res) && !has_field(res, Field::content_length)) {
    // Framing from the body itself: cheaper than storing the field first.
    char len[24];
    auto [e, ec2] = std::to_chars(len, len + sizeof len, res.body().size());
    out.append("Content-Length: ");
    out.append(len, e);
    out.append("\r\n");
  }
  out.append("\r\n");
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
