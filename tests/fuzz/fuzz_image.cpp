// libFuzzer target for the image decoder: any bytes must either decode to a
// sane BGR picture or be refused with a 4xx ApiError; never crash, hang or
// allocate beyond the pixel budget.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_image -max_total_time=60
//
// Input layout: byte 0 picks the DCT-scaling target (0 = full size), byte 1
// the mode. Mode < 128: the rest is fed to the decoder as is. Mode >= 128:
// the rest describes a small valid picture (format, size, EXIF orientation,
// pixels) that is encoded here and then damaged by a few input-driven byte
// edits and a possible truncation. The second mode lets random inputs (the
// replay test has no seed files) reach deep into every codec, not just the
// magic-byte check.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <webp/encode.h>

#include "common/error.hpp"
#include "vision/annotate.hpp"
#include "vision/decode.hpp"
#include "vision/exif.hpp"
#include "vision/image_format.hpp"

namespace {

std::string with_exif(const std::string& jpeg, int orientation) {
  std::string tiff("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0", 18);
  tiff += static_cast<char>(orientation);
  tiff += std::string("\0\0\0\0\0\0", 6);
  std::string seg = std::string("Exif\0\0", 6) + tiff;
  std::string app1 = "\xFF\xE1";
  app1 += static_cast<char>((seg.size() + 2) >> 8);
  app1 += static_cast<char>((seg.size() + 2) & 0xFF);
  return jpeg.substr(0, 2) + app1 + seg + jpeg.substr(2);
}

// Builds a valid image from the description in `d`, then damages it.
std::string synthesize(std::string_view d) {
  auto at = [&](std::size_t i) { return d.empty() ? 0u : static_cast<unsigned char>(d[i % d.size()]); };
  const int format = at(0) % 4, w = 1 + at(1) % 48, h = 1 + at(2) % 48, orientation = at(3) % 10;
  const int edits = at(4) % 6, truncate = at(5) % 4;
  cv::Mat m(h, w, CV_8UC3);
  for (std::size_t i = 0; i < m.total() * 3; ++i) m.data[i] = static_cast<unsigned char>(at(6 + i));
  std::string out;
  try {
    if (format == 0) {
      out = with_exif(osprey::vision::encode_jpeg(m, 80), orientation);
    } else if (format == 1) {
      out = osprey::vision::encode_png(m);
    } else if (format == 2) {
      std::vector<unsigned char> buf;
      cv::imencode(".bmp", m, buf);
      out.assign(buf.begin(), buf.end());
    } else {
      std::uint8_t* p = nullptr;
      std::size_t n = WebPEncodeBGR(m.data, w, h, static_cast<int>(m.step[0]), 75, &p);
      out.assign(reinterpret_cast<const char*>(p), n);
      WebPFree(p);
    }
  } catch (const osprey::ApiError&) {
    return {};
  }
  if (out.empty()) return out;
  for (int e = 0; e < edits; ++e)
    out[(at(7 + 2 * e) * 251u + at(8 + 2 * e)) % out.size()] = static_cast<char>(at(20 + e));
  if (truncate == 3) out.resize((at(30) * 257u + at(31)) % out.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int target = data[0] * 4;  // 0 = full size .. 1020
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string made;
  if (data[1] >= 128) {
    made = synthesize(rest);
    rest = made;
  }

  const int o = osprey::vision::exif_orientation(rest);
  if (o < 1 || o > 8) std::abort();
  (void)osprey::vision::probe_header(rest);

  try {
    osprey::vision::DecodeOptions opt;
    opt.target_max_side = target;
    opt.max_pixels = 4'000'000;  // keeps each run fast and memory bounded
    auto img = osprey::vision::decode_image(rest, opt);
    if (img.bgr.empty() || img.bgr.type() != CV_8UC3) std::abort();
    if (img.original_width <= 0 || img.original_height <= 0) std::abort();
    if (std::int64_t(img.original_width) * img.original_height > opt.max_pixels) std::abort();
    if (img.scale <= 0 || img.scale > 1) std::abort();
  } catch (const osprey::ApiError& e) {
    if (e.status() != 400 && e.status() != 413 && e.status() != 415) std::abort();
  }
  return 0;
}
