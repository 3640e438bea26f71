#pragma once
// EXIF orientation: cameras store pixels as the sensor saw them and record in
// the APP1 "Exif" segment how the picture must be turned to be upright. A
// detector must see the upright picture (and boxes must be in the upright
// frame the user sees), so the decoder applies it.
//
//   int o = exif_orientation(jpeg_bytes);   // 1..8; 1 when absent or malformed
//   apply_orientation(mat, o);              // rotates/flips in place
//
// The parser reads only what it needs (JPEG markers up to SOS, the TIFF
// header, IFD0) and checks every offset against the buffer: a hostile EXIF
// block yields 1, never a read out of bounds.

#include <string_view>

#include <opencv2/core.hpp>

namespace osprey::vision {

int exif_orientation(std::string_view jpeg);

// Orientation values per the EXIF/TIFF spec: 1 normal, 2 mirror horizontal,
// 3 rotate 180, 4 mirror vertical, 5 transpose, 6 rotate 90 CW,
// 7 transverse, 8 rotate 90 CCW. Other values are ignored.
void apply_orientation(cv::Mat& img, int orientation);

// True for orientations that swap width and height (5..8).
inline bool orientation_swaps_axes(int o) { return o >= 5 && o <= 8; }

}  // namespace osprey::vision
