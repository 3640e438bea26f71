#pragma once
// Image formats Osprey accepts, recognised by their magic bytes (never by the
// Content-Type a client claims), and a cheap header probe that reads the
// pixel dimensions without decoding, so that decompression bombs are refused
// before a single pixel buffer is allocated.
//
//   ImageFormat f = sniff_format(bytes);          // ImageFormat::unknown if not an image
//   std::optional<ImageHeader> h = probe_header(bytes);
//   if (h && int64_t(h->width) * h->height > limit) -> refuse
//
// probe_header returns nullopt when the header is missing, truncated or
// malformed (the caller reports "corrupt image"). For JPEG it uses
// libturbojpeg's header reader; for PNG, BMP and WebP it parses the fixed
// header fields itself.

#include <cstdint>
#include <optional>
#include <string_view>

namespace osprey::vision {

enum class ImageFormat { unknown, jpeg, png, bmp, webp };

ImageFormat sniff_format(std::string_view bytes);

// "jpeg", "png", "bmp", "webp" or "unknown".
const char* format_name(ImageFormat f);

struct ImageHeader {
  ImageFormat format = ImageFormat::unknown;
  int width = 0;   // as stored, before any EXIF orientation
  int height = 0;
  // Smallest file that can hold the pixels, where the header makes that
  // knowable (uncompressed BMP); 0 otherwise.
  std::uint64_t min_size = 0;
};

std::optional<ImageHeader> probe_header(std::string_view bytes);

}  // namespace osprey::vision
