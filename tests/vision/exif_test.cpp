// EXIF orientation: parsing (bounds-checked) and applying it when decoding.

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "test_images.hpp"
#include "vision/decode.hpp"
#include "vision/exif.hpp"

namespace osprey::vision {
namespace {

using namespace testing;

TEST(Exif, ReadsTheOrientationTagInBothByteOrders) {
  const std::string jpeg = to_jpeg(marker_image(16, 8));
  EXPECT_EQ(exif_orientation(jpeg), 1);  // no EXIF at all
  for (int o = 1; o <= 8; ++o) {
    EXPECT_EQ(exif_orientation(with_exif_orientation(jpeg, o, false)), o);
    EXPECT_EQ(exif_orientation(with_exif_orientation(jpeg, o, true)), o);
  }
  EXPECT_EQ(exif_orientation(with_exif_orientation(jpeg, 9)), 1);   // out of range
  EXPECT_EQ(exif_orientation(with_exif_orientation(jpeg, 0)), 1);
}

TEST(Exif, HostileSegmentsYieldOne) {
  const std::string good = with_exif_orientation(to_jpeg(marker_image(16, 8)), 6);
  // Every truncation of the EXIF block, and bytes past it.
  for (std::size_t n = 0; n < 80 && n < good.size(); ++n) {
    int o = exif_orientation(good.substr(0, n));
    EXPECT_TRUE(o == 1 || o == 6) << n;
  }
  // IFD offset pointing far outside the segment.
  std::string bad = good;
  // Layout: SOI(2) APP1 marker(2) len(2) "Exif\0\0"(6) then TIFF: "II" 42 offset(4 at +4).
  const std::size_t tiff = 2 + 2 + 2 + 6;
  bad[tiff + 4] = '\xFF'; bad[tiff + 5] = '\xFF'; bad[tiff + 6] = '\xFF'; bad[tiff + 7] = '\x7F';
  EXPECT_EQ(exif_orientation(bad), 1);
  // Entry count far larger than the segment.
  bad = good;
  bad[tiff + 8] = '\xFF'; bad[tiff + 9] = '\xFF';
  int o = exif_orientation(bad);
  EXPECT_TRUE(o == 1 || o == 6);
  // Segment length that runs past the end of the file.
  bad = good.substr(0, 30);
  bad[4] = '\x7F'; bad[5] = '\xFF';
  EXPECT_EQ(exif_orientation(bad), 1);
  // Wrong type for the tag (LONG instead of SHORT).
  bad = good;
  std::size_t entry2 = tiff + 10 + 12;
  bad[entry2 + 2] = 4;
  EXPECT_EQ(exif_orientation(bad), 1);
  EXPECT_EQ(exif_orientation(""), 1);
  EXPECT_EQ(exif_orientation("\xFF\xD8"), 1);
}

// The marker image is 64x32 with red at the top-left; after decoding with
// orientation o, red must be in the corner the EXIF spec says.
TEST(Exif, DecodeAppliesEveryOrientation) {
  const std::string jpeg = to_jpeg(marker_image(64, 32));
  enum Corner { TL, TR, BR, BL };
  const Corner expected[9] = {TL, TL, TR, BR, BL, TL, TR, BR, BL};
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    DecodedImage img = decode_image(with_exif_orientation(jpeg, o, o % 2 == 0));
    EXPECT_EQ(img.orientation, o);
    const bool swapped = o >= 5;
    const int w = swapped ? 32 : 64, h = swapped ? 64 : 32;
    ASSERT_EQ(img.bgr.cols, w);
    ASSERT_EQ(img.bgr.rows, h);
    EXPECT_EQ(img.original_width, w);
    EXPECT_EQ(img.original_height, h);
    const cv::Rect corners[4] = {{1, 1, 5, 5}, {w - 6, 1, 5, 5}, {w - 6, h - 6, 5, 5}, {1, h - 6, 5, 5}};
    for (int c = 0; c < 4; ++c)
      EXPECT_EQ(is_red(mean_of(img.bgr, corners[c])), c == expected[o]) << "corner " << c;
  }
}

TEST(Exif, OrientationCombinesWithDctScaling) {
  cv::Mat big = marker_image(800, 400);
  cv::rectangle(big, cv::Rect(0, 0, 64, 64), cv::Scalar(0, 0, 255), cv::FILLED);
  DecodedImage img = decode_image(with_exif_orientation(to_jpeg(big), 6), {.target_max_side = 200});
  EXPECT_DOUBLE_EQ(img.scale, 0.25);
  EXPECT_EQ(img.bgr.cols, 100);
  EXPECT_EQ(img.bgr.rows, 200);
  EXPECT_EQ(img.original_width, 400);
  EXPECT_EQ(img.original_height, 800);
  EXPECT_TRUE(is_red(mean_of(img.bgr, {90, 2, 6, 6})));  // top-right
}

}  // namespace
}  // namespace osprey::vision
