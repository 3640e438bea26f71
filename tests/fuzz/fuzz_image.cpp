// libFuzzer target for the image decoder: any bytes must either decode to a
// sane BGR picture or be refused with a 4xx ApiError; never crash, hang or
// allocate beyond the pixel budget.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_image -max_total_time=60
//
// The first byte picks the DCT-scaling target so scaled decodes are covered
// too. Seed it with small JPEG/PNG/BMP/WebP files (the vision tests build them).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/error.hpp"
#include "vision/decode.hpp"
#include "vision/exif.hpp"
#include "vision/image_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int target = data[0] * 4;  // 0 = full size .. 1020
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const int o = osprey::vision::exif_orientation(bytes);
  if (o < 1 || o > 8) std::abort();
  (void)osprey::vision::probe_header(bytes);

  try {
    osprey::vision::DecodeOptions opt;
    opt.target_max_side = target;
    opt.max_pixels = 4'000'000;  // keeps each run fast and memory bounded
    auto img = osprey::vision::decode_image(bytes, opt);
    if (img.bgr.empty() || img.bgr.type() != CV_8UC3) std::abort();
    if (img.original_width <= 0 || img.original_height <= 0) std::abort();
    if (std::int64_t(img.original_width) * img.original_height > opt.max_pixels) std::abort();
    if (img.scale <= 0 || img.scale > 1) std::abort();
  } catch (const osprey::ApiError& e) {
    if (e.status() != 400 && e.status() != 413 && e.status() != 415) std::abort();
  }
  return 0;
}
