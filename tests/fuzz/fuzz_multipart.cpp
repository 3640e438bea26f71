// libFuzzer target for the multipart/form-data parser. The input is
// "<Content-Type value>\n<body>": both halves are hostile. Whatever it gets,
// the parser must return parts that lie inside the body and respect the
// limits, or throw ApiError 400/415; never crash or read out of bounds.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_multipart -max_total_time=60
//
// Seed idea: "multipart/form-data; boundary=b\n--b\r\nContent-Disposition:
// form-data; name=\"image\"\r\n\r\nxyz\r\n--b--", or any input starting
// with a byte >= 0xF0 (structured mode, see below).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/error.hpp"
#include "http/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // A first byte >= 0xF0 selects the structured mode: a valid Content-Type and
  // opening part are prepended, so random inputs (the replay test has no seed
  // files) exercise part headers, bodies and delimiters, not just the header.
  std::string framed;
  if (!in.empty() && static_cast<unsigned char>(in[0]) >= 0xF0) {
    framed = "multipart/form-data; boundary=b\n--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n";
    framed.append(in.substr(1));
    in = framed;
  }
  const auto nl = in.find('\n');
  std::string_view content_type = nl == std::string_view::npos ? std::string_view("multipart/form-data; boundary=b")
                                                                : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? in : in.substr(nl + 1);
  osprey::http::MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  try {
    auto form = osprey::http::parse_multipart(content_type, body, limits);
    if (form.parts.size() > limits.max_parts) std::abort();
    for (const auto& p : form.parts) {
      if (p.name.empty()) std::abort();
      if (!p.body.empty() && (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size()))
        std::abort();
    }
    (void)form.find("image");
    (void)form.values("x");
  } catch (const osprey::ApiError& e) {
    if (e.status() != 400 && e.status() != 415) std::abort();
  }
  return 0;
}
