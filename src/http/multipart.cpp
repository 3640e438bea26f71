#include "http/multipart.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/strings.hpp"

namespace osprey::http {
namespace {

ApiError malformed(std::string why) {
  return ApiError(400, "malformed multipart/form-data body: " + why, "invalid_request_error", "invalid_multipart");
}

// Splits "type/subtype; a=b; c="d"" into the media type and its parameters.
// Quoted values may contain ';' and backslash escapes.
struct HeaderValue {
  std::string value;  // lower-cased, trimmed
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased
};

HeaderValue parse_header_value(std::string_view s) {
  HeaderValue hv;
  std::size_t i = s.find(';');
  hv.value = str::lower(str::trim(s.substr(0, i)));
  while (i != std::string_view::npos && i < s.size()) {
    ++i;  // skip ';'
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    std::size_t eq = s.find_first_of("=;", i);
    if (eq == std::string_view::npos || s[eq] == ';') {
      // A parameter without '=' is malformed; skip it rather than guess.
      i = eq;
      continue;
    }
    std::string name = str::lower(str::trim(s.substr(i, eq - i)));
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value.push_back(s[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) throw malformed(fmt::format("unterminated quoted string in parameter '{}'", name));
      i = s.find(';', i);
    } else {
      std::size_t end = s.find(';', i);
      value = std::string(str::trim(s.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end;
    }
    hv.params.emplace_back(std::move(name), std::move(value));
  }
  return hv;
}

const std::string* param(const HeaderValue& hv, std::string_view name) {
  for (const auto& [k, v] : hv.params)
    if (k == name) return &v;
  return nullptr;
}

bool is_bchar(char c) {
  // RFC 2046: DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?" / " "
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

const MultipartPart* MultipartForm::find(std::string_view name) const {
  for (const auto& p : parts)
    if (p.name == name) return &p;
  return nullptr;
}

std::optional<std::string> MultipartForm::value(std::string_view name) const {
  if (const auto* p = find(name)) return std::string(p->body);
  return std::nullopt;
}

std::vector<std::string> MultipartForm::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& p : parts)
    if (p.name == name) out.emplace_back(p.body);
  return out;
}

bool is_multipart_form(std::string_view content_type) {
  auto semi = content_type.find(';');
  return str::iequals(str::trim(content_type.substr(0, semi)), "multipart/form-data");
}

std::string multipart_boundary(std::string_view content_type) {
  if (!is_multipart_form(content_type))
    throw ApiError(415, "expected Content-Type multipart/form-data", "invalid_request_error",
                   "unsupported_media_type");
  HeaderValue hv = parse_header_value(content_type);
  const std::string* b = param(hv, "boundary");
  if (!b || b->empty()) throw malformed("the Content-Type has no boundary parameter");
  if (b->size() > 70) throw malformed("the boundary is longer than 70 characters");
  for (char c : *b)
    if (!is_bchar(c)) throw malformed("the boundary contains a character RFC 2046 does not allow");
  if (b->back() == ' ') throw malformed("the boundary ends with a space");
  return *b;
}

MultipartForm parse_multipart(std::string_view content_type, std::string_view body, const MultipartLimits& limits) {
  const std::string boundary = multipart_boundary(content_type);
  const std::string dash = "--" + boundary;
  const std::string delim = "\r\n" + dash;  // every delimiter but a first one at offset 0

  // The first delimiter: at the very start, or after a preamble and CRLF.
  std::size_t pos;
  if (body.substr(0, dash.size()) == dash) {
    pos = dash.size();
  } else {
    std::size_t d = body.find(delim);
    if (d == std::string_view::npos) throw malformed("the boundary never occurs in the body");
    pos = d + delim.size();
  }

  MultipartForm form;
  for (;;) {
    // After a delimiter: "--" closes the body; else optional transport
    // padding (spaces/tabs) and CRLF, then the part's headers.
    if (body.substr(pos, 2) == "--") return form;  // epilogue ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") throw malformed("a delimiter line is not followed by CRLF");
    pos += 2;

    if (form.parts.size() >= limits.max_parts)
      throw malformed(fmt::format("more than {} parts", limits.max_parts));

    // Headers end at the first empty line. Only a window of the limit's size
    // is searched, so a hostile body costs time linear in its length.
    std::string_view headers;
    if (body.substr(pos, 2) == "\r\n") {
      pos += 2;  // no headers at all (rejected below: no Content-Disposition)
    } else {
      std::string_view window = body.substr(pos, limits.max_header_bytes + 4);
      std::size_t rel = window.find("\r\n\r\n");
      if (rel == std::string_view::npos) {
        if (window.size() < limits.max_header_bytes + 4) throw malformed("a part's headers never end");
        throw malformed(fmt::format("a part's headers exceed {} bytes", limits.max_header_bytes));
      }
      if (rel > limits.max_header_bytes)
        throw malformed(fmt::format("a part's headers exceed {} bytes", limits.max_header_bytes));
      headers = body.substr(pos, rel + 2);  // keep the last CRLF
      pos += rel + 4;
    }

    MultipartPart part;
    bool have_disposition = false;
    std::size_t count = 0;
    while (!headers.empty()) {
      std::size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers.remove_prefix(eol + 2);
      if (++count > limits.max_headers) throw malformed(fmt::format("a part has more than {} headers", limits.max_headers));
      if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
        throw malformed("a header line contains a bare CR or LF");
      if (line.front() == ' ' || line.front() == '\t') throw malformed("obsolete header line folding");
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) throw malformed("a header line has no name");
      std::string_view name = line.substr(0, colon);
      std::string_view value = str::trim(line.substr(colon + 1));
      if (str::iequals(name, "content-disposition")) {
        if (have_disposition) throw malformed("a part has two Content-Disposition headers");
        HeaderValue hv = parse_header_value(value);
        if (hv.value != "form-data") throw malformed("a part's Content-Disposition is not form-data");
        const std::string* n = param(hv, "name");
        if (!n || n->empty()) throw malformed("a part has no name");
        part.name = *n;
        if (const std::string* f = param(hv, "filename")) part.filename = *f;
        have_disposition = true;
      } else if (str::iequals(name, "content-type")) {
        part.content_type = std::string(value);
      }
      // Other headers (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored.
    }
    if (!have_disposition) throw malformed("a part has no Content-Disposition header");

    std::size_t end = body.find(delim, pos);
    if (end == std::string_view::npos) throw malformed("the body ends before the closing boundary");
    part.body = body.substr(pos, end - pos);
    form.parts.push_back(std::move(part));
    pos = end + delim.size();
  }
}

}  // namespace osprey::http
