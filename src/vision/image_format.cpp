#include "vision/image_format.hpp"

#include <cstdint>
#include <cstdlib>

#include <turbojpeg.h>
#include <webp/decode.h>

namespace osprey::vision {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint32_t le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}

std::optional<ImageHeader> probe_jpeg(std::string_view b) {
  tjhandle h = tjInitDecompress();
  if (!h) return std::nullopt;
  int w = 0, ht = 0, subsamp = 0, cs = 0;
  int rc = tjDecompressHeader3(h, reinterpret_cast<const unsigned char*>(b.data()),
                               static_cast<unsigned long>(b.size()), &w, &ht, &subsamp, &cs);
  tjDestroy(h);
  if (rc != 0 || w <= 0 || ht <= 0) return std::nullopt;
  return ImageHeader{ImageFormat::jpeg, w, ht};
}

// PNG: 8-byte signature, then the IHDR chunk (length 13, "IHDR", width, height).
std::optional<ImageHeader> probe_png(std::string_view b) {
  if (b.size() < 8 + 8 + 13) return std::nullopt;
  auto p = reinterpret_cast<const unsigned char*>(b.data());
  if (be32(p + 8) != 13 || std::string_view(b.data() + 12, 4) != "IHDR") return std::nullopt;
  std::uint32_t w = be32(p + 16), h = be32(p + 20);
  // The PNG spec caps dimensions at 2^31-1; zero is invalid.
  if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) return std::nullopt;
  return ImageHeader{ImageFormat::png, static_cast<int>(w), static_cast<int>(h)};
}

// BMP: 14-byte file header, then a DIB header whose first field is its size.
// Only BITMAPINFOHEADER and later (>= 40 bytes) are accepted; the 12-byte OS/2
// core header is too rare to be worth the attack surface. Height may be
// negative (top-down rows).
std::optional<ImageHeader> probe_bmp(std::string_view b) {
  if (b.size() < 14 + 40) return std::nullopt;
  auto p = reinterpret_cast<const unsigned char*>(b.data());
  std::uint32_t dib = le32(p + 14);
  if (dib < 40 || dib > 256) return std::nullopt;
  auto w = static_cast<std::int32_t>(le32(p + 18));
  auto h = static_cast<std::int32_t>(le32(p + 22));
  if (h == INT32_MIN) return std::nullopt;
  if (h < 0) h = -h;
  if (w <= 0 || h <= 0) return std::nullopt;
  std::uint16_t bpp = static_cast<std::uint16_t>(p[28] | (p[29] << 8));
  std::uint32_t compression = le32(p + 30);
  std::uint32_t offset = le32(p + 10);
  ImageHeader hdr{ImageFormat::bmp, w, h};
  // For uncompressed bitmaps the pixel array size is known: the decoder
  // refuses files shorter than it (OpenCV would decode a partial image).
  if (compression == 0 /* BI_RGB */ || compression == 3 /* BI_BITFIELDS */) {
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return std::nullopt;
    if (offset < 14 + dib) return std::nullopt;
    std::uint64_t stride = ((std::uint64_t(w) * bpp + 31) / 32) * 4;
    hdr.min_size = std::uint64_t(offset) + stride * std::uint64_t(h);
  }
  return hdr;
}

std::optional<ImageHeader> probe_webp(std::string_view b) {
  int w = 0, h = 0;
  if (!WebPGetInfo(reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), &w, &h)) return std::nullopt;
  if (w <= 0 || h <= 0) return std::nullopt;
  return ImageHeader{ImageFormat::webp, w, h};
}

}  // namespace

ImageFormat sniff_format(std::string_view b) {
  if (starts_with(b, "\xFF\xD8\xFF")) return ImageFormat::jpeg;
  if (starts_with(b, "\x89PNG\r\n\x1A\n")) return ImageFormat::png;
  if (starts_with(b, "BM") && b.size() >= 14) return ImageFormat::bmp;
  if (b.size() >= 12 && starts_with(b, "RIFF") && b.substr(8, 4) == "WEBP") return ImageFormat::webp;
  return ImageFormat::unknown;
}

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::webp: return "webp";
    case ImageFormat::unknown: break;
  }
  return "unknown";
}

std::optional<ImageHeader> probe_header(std::string_view b) {
  switch (sniff_format(b)) {
    case ImageFormat::jpeg: return probe_jpeg(b);
    case ImageFormat::png: return probe_png(b);
    case ImageFormat::bmp: return probe_bmp(b);
    case ImageFormat::webp: return probe_webp(b);
    case ImageFormat::unknown: break;
  }
  return std::nullopt;
}

}  // namespace osprey::vision
