#include "vision/annotate.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>
#include <turbojpeg.h>

#include "common/error.hpp"
#include "vision/codecs.hpp"

namespace osprey::vision {
namespace {

cv::Scalar class_colour(int class_id) {
  // A small fixed palette (BGR), distinct and readable under white text.
  static const cv::Scalar palette[] = {
      {56, 56, 255}, {151, 157, 255}, {31, 112, 255}, {29, 178, 255}, {49, 210, 207},  {10, 249, 72},
      {23, 204, 146}, {134, 219, 61}, {52, 147, 26},  {187, 212, 0},  {168, 153, 44},  {255, 194, 0},
      {147, 69, 52},  {255, 115, 100}, {236, 24, 0},  {255, 56, 132}, {133, 0, 82},    {255, 56, 203},
      {200, 149, 255}, {199, 55, 255}};
  const std::size_t n = sizeof(palette) / sizeof(palette[0]);
  return palette[static_cast<std::size_t>(class_id < 0 ? -class_id : class_id) % n];
}

}  // namespace

cv::Mat annotate(const cv::Mat& bgr, const std::vector<Annotation>& boxes) {
  cv::Mat out = bgr.clone();
  if (out.empty()) return out;
  // Line and font sizes follow the picture size so labels stay legible on
  // both thumbnails and 4K frames.
  const int side = std::max(out.cols, out.rows);
  const int thickness = std::max(1, side / 400);
  const double font_scale = std::max(0.4, side / 1600.0);
  const auto clampx = [&](float v) { return std::clamp(static_cast<int>(v + 0.5f), 0, out.cols - 1); };
  const auto clampy = [&](float v) { return std::clamp(static_cast<int>(v + 0.5f), 0, out.rows - 1); };
  for (const auto& b : boxes) {
    const cv::Scalar colour = class_colour(b.class_id);
    cv::Point p1(clampx(b.x1), clampy(b.y1)), p2(clampx(b.x2), clampy(b.y2));
    cv::rectangle(out, p1, p2, colour, thickness, cv::LINE_AA);
    const std::string text = fmt::format("{} {:.2f}", b.label, b.confidence);
    int baseline = 0;
    cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
    const int tab_h = ts.height + baseline + 2;
    const bool above = p1.y - tab_h >= 0;
    cv::Point tab1(p1.x, above ? p1.y - tab_h : p1.y);
    cv::Point tab2(p1.x + ts.width + 2, above ? p1.y : p1.y + tab_h);
    cv::rectangle(out, tab1, tab2, colour, cv::FILLED);
    cv::putText(out, text, cv::Point(tab1.x + 1, tab2.y - baseline - 1), cv::FONT_HERSHEY_SIMPLEX, font_scale,
                cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
  }
  return out;
}

std::string encode_jpeg(const cv::Mat& bgr, int quality) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw server_error("encode_jpeg needs a CV_8UC3 image");
  struct Deleter {
    void operator()(void* h) const { tjDestroy(h); }
  };
  std::unique_ptr<void, Deleter> h(tjInitCompress());
  if (!h) throw server_error("cannot initialise the JPEG encoder");
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  if (tjCompress2(h.get(), bgr.data, bgr.cols, static_cast<int>(bgr.step[0]), bgr.rows, TJPF_BGR, &jpeg, &size,
                  TJSAMP_420, quality, TJFLAG_FASTDCT) != 0) {
    if (jpeg) tjFree(jpeg);
    throw server_error(fmt::format("JPEG encoding failed: {}", tjGetErrorStr2(h.get())));
  }
  std::string out(reinterpret_cast<const char*>(jpeg), size);
  tjFree(jpeg);
  return out;
}

std::string encode_png(const cv::Mat& bgr) {
  std::vector<unsigned char> buf;
  // Level 1: annotated pictures are big and fresh; speed beats a few % size.
  if (bgr.empty() || !codecs_encode_png(bgr, 1, buf))
    throw server_error("PNG encoding failed");
  return std::string(buf.begin(), buf.end());
}

}  // namespace osprey::vision
