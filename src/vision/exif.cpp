#include "vision/exif.hpp"

#include <cstdint>

#include <opencv2/core.hpp>

namespace osprey::vision {
namespace {

// Bounds-checked reader over the TIFF block inside APP1.
struct Tiff {
  const unsigned char* p;
  std::size_t n;
  bool little;

  bool u16(std::size_t off, std::uint16_t& v) const {
    if (off > n || n - off < 2) return false;
    v = little ? std::uint16_t(p[off] | (p[off + 1] << 8)) : std::uint16_t((p[off] << 8) | p[off + 1]);
    return true;
  }
  bool u32(std::size_t off, std::uint32_t& v) const {
    if (off > n || n - off < 4) return false;
    if (little)
      v = std::uint32_t(p[off]) | (std::uint32_t(p[off + 1]) << 8) | (std::uint32_t(p[off + 2]) << 16) |
          (std::uint32_t(p[off + 3]) << 24);
    else
      v = (std::uint32_t(p[off]) << 24) | (std::uint32_t(p[off + 1]) << 16) | (std::uint32_t(p[off + 2]) << 8) |
          std::uint32_t(p[off + 3]);
    return true;
  }
};

int orientation_from_tiff(const unsigned char* p, std::size_t n) {
  if (n < 8) return 1;
  Tiff t{p, n, false};
  if (p[0] == 'I' && p[1] == 'I') t.little = true;
  else if (p[0] == 'M' && p[1] == 'M') t.little = false;
  else return 1;
  std::uint16_t magic = 0;
  std::uint32_t ifd = 0;
  if (!t.u16(2, magic) || magic != 42 || !t.u32(4, ifd)) return 1;
  std::uint16_t count = 0;
  if (!t.u16(ifd, count)) return 1;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::size_t e = std::size_t(ifd) + 2 + std::size_t(i) * 12;
    std::uint16_t tag = 0, type = 0, value = 0;
    std::uint32_t cnt = 0;
    if (!t.u16(e, tag) || !t.u16(e + 2, type) || !t.u32(e + 4, cnt)) return 1;
    if (tag != 0x0112) continue;
    // Orientation is one SHORT stored inline in the value field.
    if (type != 3 || cnt != 1 || !t.u16(e + 8, value)) return 1;
    return (value >= 1 && value <= 8) ? value : 1;
  }
  return 1;
}

}  // namespace

int exif_orientation(std::string_view jpeg) {
  auto p = reinterpret_cast<const unsigned char*>(jpeg.data());
  std::size_t n = jpeg.size();
  if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= n) {
    if (p[pos] != 0xFF) return 1;  // not at a marker: malformed, give up
    unsigned char marker = p[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    // Standalone markers carry no length.
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // start of scan / end: no EXIF before pixels
    std::size_t len = (std::size_t(p[pos + 2]) << 8) | p[pos + 3];
    if (len < 2 || len > n - pos - 2) return 1;
    const unsigned char* seg = p + pos + 4;
    std::size_t seg_len = len - 2;
    if (marker == 0xE1 && seg_len >= 6 && std::string_view(reinterpret_cast<const char*>(seg), 6) ==
                                               std::string_view("Exif\0\0", 6)) {
      return orientation_from_tiff(seg + 6, seg_len - 6);
    }
    pos += 2 + len;
  }
  return 1;
}

void apply_orientation(cv::Mat& img, int o) {
  if (img.empty()) return;
  cv::Mat out;
  switch (o) {
    case 2: cv::flip(img, out, 1); break;
    case 3: cv::rotate(img, out, cv::ROTATE_180); break;
    case 4: cv::flip(img, out, 0); break;
    case 5: cv::transpose(img, out); break;
    case 6: cv::rotate(img, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7:
      cv::transpose(img, out);
      cv::flip(out, out, -1);
      break;
    case 8: cv::rotate(img, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return;
  }
  img = out;
}

}  // namespace osprey::vision
