#include "video/source_url.hpp"

#include <cctype>

#include "video/source.hpp"

namespace osprey::video {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string redact_source_url(const std::string& url) {
  std::string out = url;
  auto scheme_end = url.find("://");
  if (scheme_end != std::string::npos) {
    size_t auth_begin = scheme_end + 3;
    size_t auth_end = url.find_first_of("/?#", auth_begin);
    if (auth_end == std::string::npos) auth_end = url.size();
    std::string auth = url.substr(auth_begin, auth_end - auth_begin);
    if (auto at = auth.rfind('@'); at != std::string::npos) auth = auth.substr(at + 1);
    std::string rest = url.substr(auth_end);
    if (auto q = rest.find_first_of("?#"); q != std::string::npos) rest = rest.substr(0, q) + "?...";
    out = url.substr(0, auth_begin) + auth + rest;
  }
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

SourceTarget classify_source(const std::string& url) {
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? std::string() : lower(url.substr(0, sep));
  if (sep == std::string::npos) {
    // A plain path (or "file:/path"). The "file:" prefix keeps libav from
    // reading a colon in the path as a protocol name.
    std::string path = lower(url.substr(0, 5)) == "file:" ? url.substr(5) : url;
    if (path.empty()) throw SourceError("invalid", "empty video source path");
    return {SourceKind::file, "file:" + path};
  }
  if (scheme == "file") {
    std::string rest = url.substr(sep + 3);
    size_t slash = rest.find('/');
    std::string host = slash == std::string::npos ? rest : rest.substr(0, slash);
    if (!host.empty() && lower(host) != "localhost")
      throw SourceError("invalid", "file URL with a remote host: " + redact_source_url(url));
    if (slash == std::string::npos) throw SourceError("invalid", "file URL without a path: " + redact_source_url(url));
    return {SourceKind::file, "file:" + percent_decode(rest.substr(slash))};
  }
  if (scheme == "http" || scheme == "https") return {SourceKind::http, url};
  if (scheme == "rtsp" || scheme == "rtsps") return {SourceKind::rtsp, url};
  throw SourceError("unsupported", "unsupported video source scheme: " + redact_source_url(scheme + "://"));
}

}  // namespace osprey::video
