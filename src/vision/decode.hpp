#pragma once
// decode_image: hostile bytes in, an upright BGR picture out, or ApiError.
//
//   DecodeOptions opt;
//   opt.max_pixels = cfg.inference.max_image_pixels;
//   opt.target_max_side = 640;   // the model's input side: allows DCT scaling
//   DecodedImage img = decode_image(body, opt);
//   // detect on img.bgr, then map a box back: x_original = x / img.scale
//
// What it guarantees:
//  - The format is sniffed from magic bytes (JPEG, PNG, BMP, WebP); anything
//    else is 415 `unsupported_image_format`, whatever the Content-Type said.
//  - The dimensions are read from the header before any pixel buffer is
//    allocated; width*height over max_pixels (a decompression bomb, or just a
//    huge photo) is 413 `image_too_large`.
//  - Empty input is 400 `empty_image`; a damaged header or pixel stream is 400
//    `corrupt_image`; a JPEG cut short is 400 `truncated_image`.
//  - JPEGs are decoded by libturbojpeg. When target_max_side is set and the
//    image is at least 2x larger than it, the IDCT itself scales by 1/2, 1/4
//    or 1/8 (the smallest factor that keeps the longer side >= target), which
//    is several times faster than decoding in full and resizing.
//  - The EXIF orientation of JPEGs is applied, so boxes are in the frame the
//    user sees; original_width/height are that upright frame's size.
//
// It is CPU-heavy: call it on a worker pool, never on an I/O thread.

#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core.hpp>

namespace osprey::vision {

struct DecodeOptions {
  int target_max_side = 0;                  // 0 = always decode at full size
  std::int64_t max_pixels = 40'000'000;     // InferenceConfig::max_image_pixels
};

struct DecodedImage {
  cv::Mat bgr;               // CV_8UC3, upright
  int original_width = 0;    // upright size of the full-resolution picture
  int original_height = 0;
  double scale = 1.0;        // decoded / original (1, 1/2, 1/4 or 1/8)
  std::string format;        // "jpeg", "png", "bmp", "webp"
  int orientation = 1;       // EXIF orientation that was applied (1 = none)
};

DecodedImage decode_image(std::string_view bytes, const DecodeOptions& options = {});

// Longest image side we accept whatever the pixel budget (JPEG's own limit is
// 65500); protects code that stores sizes in int.
inline constexpr int kMaxImageSide = 65535;

}  // namespace osprey::vision
