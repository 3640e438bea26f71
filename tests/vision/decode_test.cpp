// decode_image on every accepted format, and on everything it must refuse.

#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "common/error.hpp"
#include "test_images.hpp"
#include "vision/decode.hpp"
#include "vision/image_format.hpp"

namespace osprey::vision {
namespace {

using namespace testing;

// Runs decode_image and returns the ApiError's status and code, or {0, ""}.
std::pair<int, std::string> decode_error(std::string_view bytes, DecodeOptions opt = {}) {
  try {
    decode_image(bytes, opt);
  } catch (const ApiError& e) {
    return {e.status(), e.code()};
  }
  return {0, ""};
}

TEST(Sniff, RecognisesMagicBytesOnly) {
  cv::Mat m = marker_image(16, 16);
  EXPECT_EQ(sniff_format(to_jpeg(m)), ImageFormat::jpeg);
  EXPECT_EQ(sniff_format(to_png(m)), ImageFormat::png);
  EXPECT_EQ(sniff_format(to_bmp(m)), ImageFormat::bmp);
  EXPECT_EQ(sniff_format(to_webp(m)), ImageFormat::webp);
  EXPECT_EQ(sniff_format("GIF89a......"), ImageFormat::unknown);
  EXPECT_EQ(sniff_format("RIFF\0\0\0\0WAVE"), ImageFormat::unknown);
  EXPECT_EQ(sniff_format(""), ImageFormat::unknown);
  EXPECT_EQ(sniff_format("\xFF\xD8"), ImageFormat::unknown);
}

TEST(Decode, EveryFormatRoundTrips) {
  cv::Mat m = marker_image(40, 24);
  for (auto [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"jpeg", to_jpeg(m)}, {"png", to_png(m)}, {"bmp", to_bmp(m)}, {"webp", to_webp(m)}}) {
    SCOPED_TRACE(name);
    DecodedImage img = decode_image(bytes);
    EXPECT_EQ(img.format, name);
    EXPECT_EQ(img.original_width, 40);
    EXPECT_EQ(img.original_height, 24);
    EXPECT_EQ(img.bgr.cols, 40);
    EXPECT_EQ(img.bgr.rows, 24);
    EXPECT_EQ(img.bgr.type(), CV_8UC3);
    EXPECT_DOUBLE_EQ(img.scale, 1.0);
    EXPECT_TRUE(is_red(mean_of(img.bgr, {1, 1, 5, 5})));
    EXPECT_FALSE(is_red(mean_of(img.bgr, {30, 14, 5, 5})));
    if (name != "jpeg") {  // lossless formats: exact pixels
      EXPECT_EQ(cv::norm(img.bgr, m, cv::NORM_INF), 0.0);
    }
  }
}

TEST(Decode, GrayscaleAndCmykJpeg) {
  cv::Mat m = marker_image(32, 32);
  // Grayscale JPEG: still three channels out.
  cv::Mat gray;
  cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY);
  cv::Mat gray3;
  cv::cvtColor(gray, gray3, cv::COLOR_GRAY2BGR);
  DecodedImage g = decode_image(to_jpeg(gray3));
  EXPECT_EQ(g.bgr.type(), CV_8UC3);
  EXPECT_EQ(g.bgr.cols, 32);
}

TEST(Decode, RealPhotos) {
  for (auto [name, w, h] : std::vector<std::tuple<std::string, int, int>>{
           {"dog.jpg", 768, 576}, {"horses.jpg", 773, 512}, {"bus.jpg", 810, 1080}}) {
    SCOPED_TRACE(name);
    DecodedImage img = decode_image(shared_image(name));
    EXPECT_EQ(img.original_width, w);
    EXPECT_EQ(img.original_height, h);
    EXPECT_EQ(img.bgr.cols, w);
    EXPECT_EQ(img.bgr.rows, h);
  }
}

TEST(Decode, DctScalingPicksTheStrongestFactorThatKeepsTheTarget) {
  const std::string dog = shared_image("dog.jpg");  // 768x576
  struct Case { int target; double scale; int w; int h; };
  for (Case c : {Case{0, 1.0, 768, 576}, Case{640, 1.0, 768, 576}, Case{384, 0.5, 384, 288},
                 Case{320, 0.5, 384, 288}, Case{160, 0.25, 192, 144}, Case{96, 0.125, 96, 72},
                 Case{10, 0.125, 96, 72}}) {
    SCOPED_TRACE(c.target);
    DecodedImage img = decode_image(dog, {.target_max_side = c.target});
    EXPECT_DOUBLE_EQ(img.scale, c.scale);
    EXPECT_EQ(img.bgr.cols, c.w);
    EXPECT_EQ(img.bgr.rows, c.h);
    EXPECT_EQ(img.original_width, 768);  // always the full-size frame
    EXPECT_EQ(img.original_height, 576);
  }
  // Scaled decode looks like a resized full decode (same picture, not garbage).
  DecodedImage full = decode_image(dog);
  DecodedImage quarter = decode_image(dog, {.target_max_side = 160});
  cv::Mat resized;
  cv::resize(full.bgr, resized, quarter.bgr.size(), 0, 0, cv::INTER_AREA);
  EXPECT_LT(cv::norm(resized, quarter.bgr, cv::NORM_L1) / resized.total() / 3, 6.0);
  // Non-JPEG formats are never DCT-scaled.
  DecodedImage png = decode_image(to_png(full.bgr), {.target_max_side = 160});
  EXPECT_DOUBLE_EQ(png.scale, 1.0);
  EXPECT_EQ(png.bgr.cols, 768);
}

TEST(Decode, ZeroBytes) {
  EXPECT_EQ(decode_error(""), (std::pair<int, std::string>{400, "empty_image"}));
}

TEST(Decode, NotAnImage) {
  EXPECT_EQ(decode_error("hello world, this is text"), (std::pair<int, std::string>{415, "unsupported_image_format"}));
  EXPECT_EQ(decode_error("GIF89a\x01\x00\x01\x00"), (std::pair<int, std::string>{415, "unsupported_image_format"}));
  EXPECT_EQ(decode_error("<svg xmlns='http://www.w3.org/2000/svg'/>"),
            (std::pair<int, std::string>{415, "unsupported_image_format"}));
}

TEST(Decode, TruncatedImagesAreRefused) {
  cv::Mat m = marker_image(64, 64);
  const std::string jpeg = to_jpeg(m), png = to_png(m), bmp = to_bmp(m), webp = to_webp(m);
  EXPECT_EQ(decode_error(jpeg.substr(0, jpeg.size() / 2)).first, 400);  // cut inside the tables
  EXPECT_EQ(decode_error(jpeg.substr(0, jpeg.size() - 10)), (std::pair<int, std::string>{400, "truncated_image"}));
  EXPECT_EQ(decode_error(jpeg.substr(0, 10)).first, 400);  // header cut
  EXPECT_EQ(decode_error(png.substr(0, png.size() / 2)).first, 400);
  EXPECT_EQ(decode_error(png.substr(0, 20)).first, 400);
  EXPECT_EQ(decode_error(bmp.substr(0, bmp.size() - 100)).first, 400);
  EXPECT_EQ(decode_error(webp.substr(0, webp.size() / 2)).first, 400);
  // A real photo cut short as well.
  const std::string dog = shared_image("dog.jpg");
  EXPECT_EQ(decode_error(dog.substr(0, dog.size() * 2 / 3)), (std::pair<int, std::string>{400, "truncated_image"}));
}

TEST(Decode, CorruptPixelStreamIsRefused) {
  cv::Mat m = marker_image(64, 64);
  std::string png = to_png(m);
  // Scramble the IDAT payload: the zlib stream or CRC fails.
  for (std::size_t i = 60; i < png.size() - 20; ++i) png[i] = static_cast<char>(png[i] ^ 0x5A);
  EXPECT_EQ(decode_error(png).first, 400);
  // JPEG magic followed by garbage.
  EXPECT_EQ(decode_error(std::string("\xFF\xD8\xFF\xE0") + std::string(200, 'x')).first, 400);
}

// Rewrites the dimensions in a header; the pixel data stays tiny.
std::string png_claiming(int w, int h) {
  std::string png = to_png(marker_image(8, 8));
  auto put = [&](std::size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[off + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put(16, static_cast<uint32_t>(w));
  put(20, static_cast<uint32_t>(h));
  return png;
}

std::string jpeg_claiming(int w, int h) {
  std::string jpeg = to_jpeg(marker_image(8, 8));
  std::size_t sof = jpeg.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  jpeg[sof + 5] = static_cast<char>(h >> 8);
  jpeg[sof + 6] = static_cast<char>(h & 0xFF);
  jpeg[sof + 7] = static_cast<char>(w >> 8);
  jpeg[sof + 8] = static_cast<char>(w & 0xFF);
  return jpeg;
}

TEST(Decode, DecompressionBombsAreRefusedFromTheHeader) {
  const std::pair<int, std::string> too_large{413, "image_too_large"};
  EXPECT_EQ(decode_error(png_claiming(100000, 100000)), too_large);
  EXPECT_EQ(decode_error(png_claiming(20000, 20000)), too_large);     // 400 MP > 40 MP
  EXPECT_EQ(decode_error(jpeg_claiming(60000, 60000)), too_large);
  EXPECT_EQ(decode_error(jpeg_claiming(65000, 1000)), too_large);     // 65 MP
  // Under the limit the header is believed, then the stream is found short.
  EXPECT_EQ(decode_error(png_claiming(4000, 4000)).first, 400);
  // The configured limit is what counts, for every format.
  cv::Mat m = marker_image(100, 100);  // 10,000 pixels
  for (const std::string& bytes : {to_jpeg(m), to_png(m), to_bmp(m), to_webp(m)}) {
    EXPECT_EQ(decode_error(bytes, {.max_pixels = 9999}), too_large);
    EXPECT_EQ(decode_error(bytes, {.max_pixels = 10000}).first, 0);
  }
}

TEST(Decode, HostileBmpHeaders) {
  std::string bmp = to_bmp(marker_image(16, 16));
  std::string neg = bmp;  // width negative
  neg[18] = '\xF0'; neg[19] = '\xFF'; neg[20] = '\xFF'; neg[21] = '\xFF';
  EXPECT_EQ(decode_error(neg).first, 400);
  std::string huge = bmp;  // claims 30000x30000 but carries 16x16 of pixels
  huge[18] = 0x30; huge[19] = 0x75; huge[20] = 0; huge[21] = 0;
  huge[22] = 0x30; huge[23] = 0x75; huge[24] = 0; huge[25] = 0;
  EXPECT_EQ(decode_error(huge).first, 413);
  std::string big = bmp;  // 1000x1000: under the limit, but the file is too short
  big[18] = '\xE8'; big[19] = 0x03; big[22] = '\xE8'; big[23] = 0x03;
  EXPECT_EQ(decode_error(big), (std::pair<int, std::string>{400, "truncated_image"}));
}

// Random garbage and random mutations of valid files: any outcome is fine
// except a crash or an error outside the documented set.
TEST(Decode, GarbageNeverCrashes) {
  std::mt19937 rng(12345);
  cv::Mat m = marker_image(32, 24);
  const std::vector<std::string> seeds = {to_jpeg(m), to_png(m), to_bmp(m), to_webp(m),
                                          with_exif_orientation(to_jpeg(m), 6)};
  int decoded = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes;
    if (iter % 10 == 0) {
      bytes.resize(rng() % 512);
      for (auto& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = seeds[iter % seeds.size()];
      const int flips = 1 + rng() % 8;
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    }
    try {
      DecodedImage img = decode_image(bytes, {.target_max_side = static_cast<int>(rng() % 64),
                                              .max_pixels = 1'000'000});
      EXPECT_EQ(img.bgr.type(), CV_8UC3);
      EXPECT_GT(img.bgr.cols, 0);
      ++decoded;
    } catch (const ApiError& e) {
      EXPECT_TRUE(e.status() == 400 || e.status() == 413 || e.status() == 415) << e.status() << " " << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
  EXPECT_GT(decoded, 10);  // mutations inside pixel data usually still decode
}

}  // namespace
}  // namespace osprey::vision
