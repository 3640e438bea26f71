#include "inference/opencv_engine.hpp"

#include <algorithm>
#include <stdexcept>

#include <opencv2/dnn.hpp>
#include <spdlog/spdlog.h>

namespace osprey::inference {
namespace {

class OpenCvEngine final : public Engine {
 public:
  explicit OpenCvEngine(const OpenCvLoad& req) {
    try {
      if (!req.weights_path.empty()) {
        net_ = cv::dnn::readNetFromDarknet(req.model_path, req.weights_path);
      } else if (!req.onnx_bytes.empty()) {
        net_ = cv::dnn::readNetFromONNX(req.onnx_bytes.data(), req.onnx_bytes.size());
      } else {
        net_ = cv::dnn::readNetFromONNX(req.model_path);
      }
    } catch (const cv::Exception& e) {
      throw std::runtime_error(std::string("OpenCV readNet failed: ") + e.what());
    }
    if (net_.empty()) throw std::runtime_error("OpenCV readNet returned an empty network");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    outputs_ = net_.getUnconnectedOutLayersNames();
    darknet_ = !req.weights_path.empty();
    std::vector<std::string> names = net_.getLayerNames();
    for (const auto& node : req.scaled_matmuls) {
      // OpenCV 4.6 names ONNX layers "onnx_node!<node name>" (older: the output name).
      std::string hit;
      for (const auto& cand : {"onnx_node!" + node, node}) {
        if (std::find(names.begin(), names.end(), cand) != names.end()) { hit = cand; break; }
      }
      if (hit.empty()) {
        spdlog::warn("inference: workaround layer {} not found in {}", node, req.model_path);
      } else {
        extra_.push_back(hit);
      }
    }
    requested_ = extra_;
    requested_.insert(requested_.end(), outputs_.begin(), outputs_.end());
  }

  cv::Mat forward(const cv::Mat& blob) override {
    std::vector<cv::Mat> outs;
    try {
      net_.setInput(blob);
      net_.forward(outs, requested_);
    } catch (const cv::Exception& e) {
      throw std::runtime_error(std::string("OpenCV forward failed: ") + e.what());
    }
    // Drop the workaround blobs; what is left are the real outputs.
    outs.erase(outs.begin(), outs.begin() + std::min(outs.size(), extra_.size()));
    if (outs.empty()) throw std::runtime_error("OpenCV forward returned no output");
    if (!darknet_) {
      cv::Mat o = outs.back();
      return o.isContinuous() ? o : o.clone();
    }
    // Darknet: one [rows,85] Mat per YOLO layer -> one [1,N,85] tensor.
    int cols = outs[0].cols, rows = 0;
    for (auto& o : outs) {
      if (o.dims != 2 || o.cols != cols) throw std::runtime_error("unexpected Darknet output shape");
      rows += o.rows;
    }
    int sz[3] = {1, rows, cols};
    cv::Mat all(3, sz, CV_32F);
    float* dst = all.ptr<float>();
    for (auto& o : outs) {
      cv::Mat c = o.isContinuous() ? o : o.clone();
      std::copy(c.ptr<float>(), c.ptr<float>() + c.total(), dst);
      dst += c.total();
    }
    return all;
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> outputs_, extra_, requested_;
  bool darknet_ = false;
};

}  // namespace

std::unique_ptr<Engine> make_opencv_engine(const OpenCvLoad& req) {
  return std::make_unique<OpenCvEngine>(req);
}

}  // namespace osprey::inference
