#pragma once
// BaseUrl: the upstream's base URL (GatewayConfig::base_url) split into what
// the client needs. Only http and https; no userinfo, query or fragment.
//
//   BaseUrl u = BaseUrl::parse("https://api.openai.com/v1");
//   u.tls == true, u.host == "api.openai.com", u.port == "443", u.prefix == "/v1"
//   u.target("/chat/completions") == "/v1/chat/completions"

#include <string>
#include <string_view>

namespace osprey::gateway {

struct BaseUrl {
  bool tls = true;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // always set ("443"/"80" by default)
  std::string prefix;  // path without trailing '/', may be empty
  bool host_is_ip = false;

  // Throws std::invalid_argument naming what is wrong.
  static BaseUrl parse(std::string_view url);
  std::string target(std::string_view path) const { return prefix + std::string(path); }
  // Value of the Host header.
  std::string host_header() const;
};

}  // namespace osprey::gateway
