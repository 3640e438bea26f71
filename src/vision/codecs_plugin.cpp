// libosprey_codecs.so: the one place that calls OpenCV's imgcodecs, built as
// a plugin (see codecs.hpp for why). C entry points only; the caller checks
// osprey_codecs_abi() against the one it was built with.
#include <opencv2/imgcodecs.hpp>

#include "vision/codecs_plugin.hpp"

extern "C" {

OSPREY_CODECS_EXPORT int osprey_codecs_abi() { return osprey::vision::kCodecsPluginAbi; }

OSPREY_CODECS_EXPORT bool osprey_codecs_decode(const char* data, std::size_t size, cv::Mat* out) {
  try {
    cv::Mat raw(1, static_cast<int>(size), CV_8UC1, const_cast<char*>(data));
    *out = cv::imdecode(raw, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    return !out->empty();
  } catch (const cv::Exception&) {
    out->release();
    return false;
  }
}

OSPREY_CODECS_EXPORT bool osprey_codecs_encode_png(const cv::Mat* bgr, int level, std::vector<unsigned char>* out) {
  try {
    return cv::imencode(".png", *bgr, *out, {cv::IMWRITE_PNG_COMPRESSION, level});
  } catch (const cv::Exception&) {
    return false;
  }
}

}  // extern "C"
