#pragma once
// Drawing detections onto a picture and encoding it for the response.
//
//   std::vector<Annotation> a = {{x1, y1, x2, y2, "dog", 0.87f, 16}};
//   cv::Mat out = annotate(img.bgr, a);        // a copy; img.bgr is untouched
//   std::string jpeg = encode_jpeg(out);       // libturbojpeg, quality 90
//   std::string png  = encode_png(out);
//
// Box coordinates are in the pixels of the Mat being drawn on. Each class
// gets a stable colour; the text is "label 0.87" on a filled tab above the box
// (inside it when the box touches the top edge).

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace osprey::vision {

struct Annotation {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  std::string label;
  float confidence = 0;
  int class_id = 0;
};

cv::Mat annotate(const cv::Mat& bgr, const std::vector<Annotation>& boxes);

// Both throw ApiError(500) if the encoder fails (it should not on a valid
// CV_8UC3 Mat).
std::string encode_jpeg(const cv::Mat& bgr, int quality = 90);
std::string encode_png(const cv::Mat& bgr);

}  // namespace osprey::vision
