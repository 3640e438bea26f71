#pragma once
// A strict multipart/form-data parser (RFC 7578 over RFC 2046 framing).
//
//   auto form = parse_multipart(req[Field::content_type], req.body());
//   if (const MultipartPart* img = form.find("image")) decode(img->body);
//   std::optional<std::string> conf = form.value("min_confidence");
//
// Parts are views into `body`, which must outlive the result (it is the
// request body, so it does). Anything malformed throws ApiError 400 with
// code `invalid_multipart`: a Content-Type that is not multipart/form-data or
// lacks a valid boundary (that one is 415 when the type is wrong), a missing
// first delimiter, a part without Content-Disposition: form-data and a name,
// header lines without CRLF or ':' or with obsolete folding, header blocks over
// the limit, too many parts, or a body that ends before the close delimiter.
// The preamble and epilogue are ignored, as RFC 2046 says.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::http {

struct MultipartPart {
  std::string name;          // from Content-Disposition: form-data; name="..."
  std::string filename;      // empty when the part is a plain field
  std::string content_type;  // empty when the part did not say
  std::string_view body;     // raw bytes, no transfer decoding (RFC 7578 4.7)
};

struct MultipartLimits {
  std::size_t max_parts = 64;
  std::size_t max_header_bytes = 8 * 1024;  // per part, all header lines together
  std::size_t max_headers = 16;             // header lines per part
};

struct MultipartForm {
  std::vector<MultipartPart> parts;

  // First part with this name, or nullptr.
  const MultipartPart* find(std::string_view name) const;
  // Body of the first part with this name, as text.
  std::optional<std::string> value(std::string_view name) const;
  // Bodies of every part with this name, in order.
  std::vector<std::string> values(std::string_view name) const;
};

// Extracts the boundary from a Content-Type header value. Throws ApiError 415
// if the type is not multipart/form-data, 400 if the boundary is missing or
// invalid (1..70 characters from RFC 2046's bchars, not ending in a space).
std::string multipart_boundary(std::string_view content_type);

// True when the Content-Type names multipart/form-data (parameters ignored).
bool is_multipart_form(std::string_view content_type);

MultipartForm parse_multipart(std::string_view content_type, std::string_view body,
                              const MultipartLimits& limits = {});

}  // namespace osprey::http
