#pragma once
// OpenCV's image codecs (PNG and BMP decoding, PNG encoding), reached
// through a plugin: libosprey_codecs.so links libopencv_imgcodecs, which on
// Debian drags in ~130 libraries (GDAL, GDCM, Poppler, ...) and ~38 MB of
// RSS. The server maps them only once it decodes such an image (or when
// preload_codecs() says so at startup); a gateway-only process never does.
// JPEG and WebP are decoded with libjpeg-turbo and libwebp directly.
//
//   cv::Mat bgr;
//   if (!codecs_decode(bytes, bgr)) ...            // corrupt
//   std::vector<unsigned char> png;
//   if (!codecs_encode_png(bgr, 1, png)) ...        // failed
//
// Both throw std::runtime_error when the plugin cannot be loaded.

#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace osprey::vision {

// cv::imdecode(IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION); false if OpenCV
// could not decode the bytes.
bool codecs_decode(std::string_view bytes, cv::Mat& out);
// cv::imencode(".png") at the given zlib level.
bool codecs_encode_png(const cv::Mat& bgr, int level, std::vector<unsigned char>& out);
// Loads the plugin now (a server with models calls this at startup, so the
// first PNG request does not pay for it). Throws if it cannot be loaded.
void preload_codecs();

}  // namespace osprey::vision
