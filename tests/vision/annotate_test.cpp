// Annotation drawing and the JPEG/PNG encoders.

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "test_images.hpp"
#include "vision/annotate.hpp"
#include "vision/decode.hpp"

namespace osprey::vision {
namespace {

using namespace testing;

TEST(Annotate, DrawsOnACopyInsideTheBox) {
  cv::Mat img(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat out = annotate(img, {{50, 60, 150, 160, "dog", 0.87f, 16}});
  EXPECT_EQ(cv::countNonZero(img.reshape(1)), 0);  // input untouched
  cv::Mat diff;
  cv::cvtColor(out, diff, cv::COLOR_BGR2GRAY);
  EXPECT_GT(cv::countNonZero(diff(cv::Rect(48, 58, 5, 104))), 0);    // left edge drawn
  EXPECT_EQ(cv::countNonZero(diff(cv::Rect(80, 100, 40, 40))), 0);   // interior untouched
  EXPECT_GT(cv::countNonZero(diff(cv::Rect(50, 30, 60, 30))), 0);    // label tab above the box
  EXPECT_EQ(cv::countNonZero(diff(cv::Rect(200, 0, 100, 200))), 0);  // nothing elsewhere
}

TEST(Annotate, BoxesOutsideThePictureAreClamped) {
  cv::Mat img(50, 50, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat out = annotate(img, {{-100, -100, 1000, 1000, "x", 1.0f, -3}, {49, 0, 49, 0, "", 0, 0}});
  EXPECT_EQ(out.size(), img.size());
}

TEST(Encode, JpegAndPngRoundTrip) {
  cv::Mat m = marker_image(48, 32);
  DecodedImage png = decode_image(encode_png(m));
  EXPECT_EQ(png.format, "png");
  EXPECT_EQ(cv::norm(png.bgr, m, cv::NORM_INF), 0.0);
  DecodedImage jpeg = decode_image(encode_jpeg(m, 95));
  EXPECT_EQ(jpeg.format, "jpeg");
  EXPECT_EQ(jpeg.bgr.size(), m.size());
  EXPECT_LT(cv::norm(jpeg.bgr, m, cv::NORM_L1) / m.total() / 3, 8.0);
}

}  // namespace
}  // namespace osprey::vision
