#include "gateway/base_url.hpp"

#include <utility>

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

namespace osprey::gateway {

BaseUrl BaseUrl::parse(std::string_view url) {
  BaseUrl u;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    u.tls = false;
    rest = url.substr(7);
  } else {
    throw std::invalid_argument("gateway.base_url must start with http:// or https://");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) throw std::invalid_argument("gateway.base_url must not have a query or fragment");
  if (authority.find('@') != std::string_view::npos) throw std::invalid_argument("gateway.base_url must not contain credentials");
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("gateway.base_url: unterminated IPv6 literal");
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument("gateway.base_url: bad port");
      u.port = std::string(after.substr(1));
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) throw std::invalid_argument("gateway.base_url has no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  for (char c : u.port)
    if (c < '0' || c > '9') throw std::invalid_argument("gateway.base_url: port is not a number");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.prefix = std::string(path);
  boost::system::error_code ec;
  boost::asio::ip::make_address(u.host, ec);
  u.host_is_ip = !ec;
  return u;
}

std::string BaseUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((tls && port != "443") || (!tls && port != "80")) h += ":" + port;
  return h;
}

}  // namespace osprey::gateway
