#include "gateway/request_head.hpp"

#include <boost/beast/http/verb.hpp>

#include <charconv>

namespace osprey::gateway {

void format_request_head(std::string& out, http::Verb verb, std::string_view target, std::string_view host,
                         std::string_view key, std::string_view accept, bool with_body, std::size_t body_bytes) {
  out.append(boost::beast::http::to_string(verb));
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\nHost: ");
  out.append(host);
  if (!key.empty()) {  // a keyless upstream (a local server) gets no Authorization
    out.append("\r\nAuthorization: Bearer ");
    out.append(key);
  }
  out.append("\r\nUser-Agent: osprey-gateway/0.1\r\nAccept: ");
  out.append(accept);
  if (with_body) {
    char len[24];
    auto [end, errc] = std::to_chars(len, len + sizeof len, body_bytes);
    (void)errc;
    out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
    out.append(len, end);
  }
  out.append("\r\n\r\n");
}

}  // namespace osprey::gateway
