// The strict multipart/form-data parser: what real clients send, and every
// way a hostile body can be malformed.

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "http/multipart.hpp"

namespace osprey::http {
namespace {

const std::string kType = "multipart/form-data; boundary=XyZ123";

int status_of(std::string_view type, std::string_view body, MultipartLimits lim = {}) {
  try {
    parse_multipart(type, body, lim);
  } catch (const ApiError& e) {
    EXPECT_FALSE(e.code().empty());
    return e.status();
  }
  return 0;
}

TEST(Multipart, ParsesFieldsAndFiles) {
  const std::string binary("\x00\xFF\r\n--Xy\r\n\x01", 11);  // CRLF and a near-boundary inside
  std::string body =
      "--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"image\"; filename=\"dog.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n"
      "\r\n" + binary + "\r\n"
      "--XyZ123\r\n"
      "content-disposition: form-data; name=min_confidence\r\n"
      "\r\n"
      "0.5\r\n"
      "--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"classes\"\r\n\r\ndog\r\n"
      "--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"classes\"\r\n\r\ncat\r\n"
      "--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n"
      "--XyZ123--\r\n";
  MultipartForm f = parse_multipart(kType, body);
  ASSERT_EQ(f.parts.size(), 5u);
  const MultipartPart* img = f.find("image");
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(img->filename, "dog.jpg");
  EXPECT_EQ(img->content_type, "image/jpeg");
  EXPECT_EQ(img->body, binary);
  EXPECT_EQ(f.value("min_confidence"), "0.5");
  EXPECT_EQ(f.values("classes"), (std::vector<std::string>{"dog", "cat"}));
  EXPECT_EQ(f.value("empty"), "");
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_FALSE(f.value("nope").has_value());
}

TEST(Multipart, PreambleEpilogueQuotedBoundaryAndCase) {
  std::string body =
      "This is a preamble.\r\n"
      "--a'b(c)+_,-./:=? z\r\n"
      "Content-Disposition: form-data; name=\"f\"; filename=\"a \\\"quoted\\\"; name.png\"\r\n"
      "\r\n"
      "v\r\n"
      "--a'b(c)+_,-./:=? z--\r\nepilogue --a'b(c) garbage";
  MultipartForm f = parse_multipart("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a'b(c)+_,-./:=? z\"", body);
  ASSERT_EQ(f.parts.size(), 1u);
  EXPECT_EQ(f.parts[0].name, "f");
  EXPECT_EQ(f.parts[0].filename, "a \"quoted\"; name.png");
  EXPECT_EQ(f.parts[0].body, "v");
}

TEST(Multipart, TransportPaddingAfterDelimiter) {
  std::string body = "--XyZ123  \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ123--";
  EXPECT_EQ(parse_multipart(kType, body).value("a"), "1");
}

TEST(Multipart, ContentTypeErrors) {
  const std::string ok = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
  EXPECT_EQ(status_of("application/json", ok), 415);
  EXPECT_EQ(status_of("", ok), 415);
  EXPECT_EQ(status_of("multipart/mixed; boundary=b", ok), 415);
  EXPECT_EQ(status_of("multipart/form-data", ok), 400);
  EXPECT_EQ(status_of("multipart/form-data; boundary=", ok), 400);
  EXPECT_EQ(status_of("multipart/form-data; boundary=\"unterminated", ok), 400);
  EXPECT_EQ(status_of("multipart/form-data; boundary=" + std::string(71, 'a'), ok), 400);
  EXPECT_EQ(status_of("multipart/form-data; boundary=\"a b \"", ok), 400);  // ends in space
  EXPECT_EQ(status_of("multipart/form-data; boundary=a<b", ok), 400);       // not a bchar
  EXPECT_EQ(status_of("multipart/form-data; boundary=b", ok), 0);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')), std::string(70, 'a'));
}

TEST(Multipart, MalformedBodies) {
  auto part = [](const std::string& headers, const std::string& content) {
    return "--XyZ123\r\n" + headers + "\r\n" + content + "\r\n";
  };
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";
  EXPECT_EQ(status_of(kType, part(cd, "1") + "--XyZ123--"), 0);
  EXPECT_EQ(status_of(kType, ""), 400);                                     // empty body
  EXPECT_EQ(status_of(kType, "no boundary here"), 400);
  EXPECT_EQ(status_of(kType, part(cd, "1")), 400);                          // no close delimiter
  EXPECT_EQ(status_of(kType, part(cd, "1") + "--XyZ123"), 400);             // close cut short
  EXPECT_EQ(status_of(kType, "--XyZ123\r\n" + cd), 400);                    // headers never end
  EXPECT_EQ(status_of(kType, "--XyZ123\r\n" + cd + "\r\nbody without end"), 400);
  EXPECT_EQ(status_of(kType, part("Content-Type: text/plain\r\n", "1") + "--XyZ123--"), 400);  // no disposition
  EXPECT_EQ(status_of(kType, part("\r\n", "1") + "--XyZ123--"), 400);       // no headers at all
  EXPECT_EQ(status_of(kType, part("Content-Disposition: form-data\r\n", "1") + "--XyZ123--"), 400);  // no name
  EXPECT_EQ(status_of(kType, part("Content-Disposition: form-data; name=\"\"\r\n", "1") + "--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part("Content-Disposition: attachment; name=a\r\n", "1") + "--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part(cd + cd, "1") + "--XyZ123--"), 400);      // two dispositions
  EXPECT_EQ(status_of(kType, part(cd + " folded: x\r\n", "1") + "--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part(cd + "no colon\r\n", "1") + "--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part(cd + ": empty name\r\n", "1") + "--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part("Content-Disposition: form-data; name=\"a\"\nX: y\r\n", "1") + "--XyZ123--"),
            400);                                                           // bare LF
  EXPECT_EQ(status_of(kType, "--XyZ123\nContent-Disposition: form-data; name=a\n\n1\n--XyZ123--"), 400);
  EXPECT_EQ(status_of(kType, part(cd, "1") + "--XyZ123garbage\r\n"), 400);  // boundary prefix in content
  EXPECT_EQ(status_of(kType, "--XyZ123--"), 0);                             // an empty form is valid
}

TEST(Multipart, Limits) {
  std::string many;
  for (int i = 0; i < 5; ++i) many += "--XyZ123\r\nContent-Disposition: form-data; name=p\r\n\r\nx\r\n";
  many += "--XyZ123--";
  EXPECT_EQ(status_of(kType, many, {.max_parts = 5}), 0);
  EXPECT_EQ(status_of(kType, many, {.max_parts = 4}), 400);
  std::string big_header = "--XyZ123\r\nContent-Disposition: form-data; name=a\r\nX-Pad: " + std::string(9000, 'p') +
                           "\r\n\r\n1\r\n--XyZ123--";
  EXPECT_EQ(status_of(kType, big_header), 400);
  EXPECT_EQ(status_of(kType, big_header, {.max_header_bytes = 10000}), 0);
  std::string lots = "--XyZ123\r\nContent-Disposition: form-data; name=a\r\n";
  for (int i = 0; i < 20; ++i) lots += "X-H: 1\r\n";
  lots += "\r\n1\r\n--XyZ123--";
  EXPECT_EQ(status_of(kType, lots), 400);
  EXPECT_EQ(status_of(kType, lots, {.max_headers = 21}), 0);
}

TEST(Multipart, EveryPrefixOfAValidBodyIsHandled) {
  std::string body =
      "--XyZ123\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x\"\r\nContent-Type: image/png\r\n\r\n"
      "\x89PNG data\r\n--XyZ123\r\nContent-Disposition: form-data; name=k\r\n\r\nv\r\n--XyZ123--\r\n";
  for (std::size_t n = 0; n < body.size(); ++n) {
    int s = status_of(kType, body.substr(0, n));
    EXPECT_TRUE(s == 400 || s == 0) << n;
  }
}

}  // namespace
}  // namespace osprey::http
