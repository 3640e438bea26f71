#pragma once
// Preprocessing per model family: image (8-bit BGR) -> NCHW float blob, plus
// the transform that maps input-pixel boxes back to the original image.
//
//   family   colour  scale   resize
//   darknet  RGB     1/255   plain stretch (boxes come back normalised 0..1)
//   yolov5,  RGB     1/255   letterbox, keep aspect, CENTRED, pad 114
//   yolov8
//   yolox    BGR     none    letterbox, image at TOP-LEFT, pad 114 (raw 0..255)
//
// Letterbox resize: r = min(W/w, H/h), resized to round(w*r) x round(h*r)
// (also for YOLOX, whose own preproc truncates; see preprocess.cpp).
//
//   Letterbox lb;
//   cv::Mat blob = make_blob(bgr, "yolov8", 640, 640, &lb);
//   float x_orig = (x_input - lb.pad_x) / lb.scale;

#include <string>

#include <opencv2/core.hpp>

namespace osprey::inference {

struct Letterbox {
  float scale = 1;   // input pixels per original pixel
  float pad_x = 0;   // left padding in input pixels
  float pad_y = 0;   // top padding in input pixels
  int orig_width = 0, orig_height = 0;
};

// `bgr` is CV_8UC3. Throws std::invalid_argument on an unknown family.
cv::Mat make_blob(const cv::Mat& bgr, const std::string& family, int width, int height, Letterbox* lb);

}  // namespace osprey::inference
