#include "inference/preprocess.hpp"

#include <cmath>
#include <stdexcept>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

namespace osprey::inference {

cv::Mat make_blob(const cv::Mat& bgr, const std::string& family, int width, int height, Letterbox* lb) {
  Letterbox t;
  t.orig_width = bgr.cols;
  t.orig_height = bgr.rows;
  cv::Mat blob;
  if (family == "darknet") {
    // Plain stretch; the YOLO layers report boxes normalised to the image, so
    // the inverse transform is just "multiply by the original size".
    blob = cv::dnn::blobFromImage(bgr, 1.0 / 255.0, cv::Size(width, height), cv::Scalar(), true, false);
    t.scale = 1;
  } else {
    const bool yolox = family == "yolox";
    if (!yolox && family != "yolov5" && family != "yolov8") {
      throw std::invalid_argument("unknown model family: " + family);
    }
    // double, as in Python (in float, 640 * (416/640.f) is 415.99998).
    double r = std::min(double(width) / bgr.cols, double(height) / bgr.rows);
    // Resized size: round(w*r), for every family. YOLOX's own preproc
    // truncates (int(w*r)), but that makes the pasted picture up to a pixel
    // short of the scale r that the boxes are mapped back with (and in double
    // 773 * (416/773.) is 415.99999999999994, so a whole column goes). The
    // reference coco128 figures (shared/datasets/README.md: 0.513 / 0.337) are
    // reproduced by round(): 0.5130 / 0.3371, against 0.5064 / 0.3348 with
    // int(). 45 of the 128 coco128 images get a different size.
    int nw = int(std::lround(bgr.cols * r));
    int nh = int(std::lround(bgr.rows * r));
    double left, top;
    if (yolox) {
      // yolox/data/data_augment.py preproc: pasted at (0,0), pad right/bottom.
      left = top = 0;
    } else {
      // ultralytics LetterBox: padding split in two halves with round(d-0.1)
      // on the top/left.
      double dw = (width - nw) / 2.0, dh = (height - nh) / 2.0;
      left = std::lround(dw - 0.1);
      top = std::lround(dh - 0.1);
    }
    nw = std::clamp(nw, 1, width);
    nh = std::clamp(nh, 1, height);
    cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(114, 114, 114));
    cv::Mat resized;
    if (nw != bgr.cols || nh != bgr.rows) {
      cv::resize(bgr, resized, cv::Size(nw, nh), 0, 0, cv::INTER_LINEAR);
    } else {
      resized = bgr;
    }
    int ix = std::clamp(int(left), 0, width - nw), iy = std::clamp(int(top), 0, height - nh);
    resized.copyTo(canvas(cv::Rect(ix, iy, nw, nh)));
    blob = cv::dnn::blobFromImage(canvas, yolox ? 1.0 : 1.0 / 255.0, cv::Size(), cv::Scalar(), !yolox, false);
    t.scale = float(r);
    t.pad_x = float(ix);
    t.pad_y = float(iy);
  }
  if (lb) *lb = t;
  return blob;
}

}  // namespace osprey::inference
