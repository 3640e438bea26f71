#pragma once
// Builders for small synthetic images in every accepted format, and an EXIF
// APP1 injector, shared by the vision tests.

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace osprey::vision::testing {

// w x h picture: a horizontal gradient with a pure red 8x8 block at the
// top-left corner, so orientation changes are observable.
cv::Mat marker_image(int w, int h);

std::string to_jpeg(const cv::Mat& bgr, int quality = 95);
std::string to_png(const cv::Mat& bgr);
std::string to_bmp(const cv::Mat& bgr);
std::string to_webp(const cv::Mat& bgr);

// Inserts an APP1 Exif segment with IFD0 holding one Orientation tag right
// after the SOI marker. `big_endian` picks "MM" over "II".
std::string with_exif_orientation(const std::string& jpeg, int orientation, bool big_endian = false);

// Reads a file from $OSPREY_SHARED_DIR/images.
std::string shared_image(const std::string& name);

// Mean colour of a region, for "is the red marker here?" checks.
cv::Scalar mean_of(const cv::Mat& img, cv::Rect r);
bool is_red(const cv::Scalar& s);

}  // namespace osprey::vision::testing
