#include "test_images.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <webp/encode.h>

#include "vision/annotate.hpp"

namespace osprey::vision::testing {

cv::Mat marker_image(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(0, static_cast<uchar>(x * 255 / w), 0);
  cv::rectangle(m, cv::Rect(0, 0, 8, 8), cv::Scalar(0, 0, 255), cv::FILLED);
  return m;
}

std::string to_jpeg(const cv::Mat& bgr, int quality) { return encode_jpeg(bgr, quality); }
std::string to_png(const cv::Mat& bgr) { return encode_png(bgr); }

std::string to_bmp(const cv::Mat& bgr) {
  std::vector<uchar> buf;
  if (!cv::imencode(".bmp", bgr, buf)) throw std::runtime_error("bmp encode failed");
  return std::string(buf.begin(), buf.end());
}

std::string to_webp(const cv::Mat& bgr) {
  uint8_t* out = nullptr;
  size_t n = WebPEncodeLosslessBGR(bgr.data, bgr.cols, bgr.rows, static_cast<int>(bgr.step[0]), &out);
  if (n == 0) throw std::runtime_error("webp encode failed");
  std::string s(reinterpret_cast<const char*>(out), n);
  WebPFree(out);
  return s;
}

std::string with_exif_orientation(const std::string& jpeg, int orientation, bool be) {
  auto u16 = [&](std::string& s, unsigned v) {
    if (be) { s.push_back(char(v >> 8)); s.push_back(char(v & 0xFF)); }
    else { s.push_back(char(v & 0xFF)); s.push_back(char(v >> 8)); }
  };
  auto u32 = [&](std::string& s, unsigned v) {
    if (be) { u16(s, v >> 16); u16(s, v & 0xFFFF); }
    else { u16(s, v & 0xFFFF); u16(s, v >> 16); }
  };
  std::string tiff = be ? std::string("MM") : std::string("II");
  u16(tiff, 42);
  u32(tiff, 8);      // IFD0 right after the header
  u16(tiff, 2);      // two entries: an unrelated one first, then Orientation
  u16(tiff, 0x010F); u16(tiff, 2); u32(tiff, 4); tiff += std::string("Osp\0", 4);  // Make = "Osp"
  u16(tiff, 0x0112); u16(tiff, 3); u32(tiff, 1); u16(tiff, static_cast<unsigned>(orientation)); u16(tiff, 0);
  u32(tiff, 0);      // no next IFD
  std::string seg = std::string("Exif\0\0", 6) + tiff;
  std::string app1 = "\xFF\xE1";
  const unsigned len = static_cast<unsigned>(seg.size() + 2);
  app1.push_back(char(len >> 8));
  app1.push_back(char(len & 0xFF));
  app1 += seg;
  return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

std::string shared_image(const std::string& name) {
  const char* dir = std::getenv("OSPREY_SHARED_DIR");
  std::string path = std::string(dir ? dir : "/work/shared") + "/images/" + name;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

cv::Scalar mean_of(const cv::Mat& img, cv::Rect r) { return cv::mean(img(r)); }

bool is_red(const cv::Scalar& s) { return s[2] > 180 && s[0] < 80 && s[1] < 80; }

}  // namespace osprey::vision::testing
