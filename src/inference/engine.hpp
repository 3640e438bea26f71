#pragma once
// Engine: one loaded instance of a network that runs one forward at a time.
// Instances are NOT thread-safe (an OpenCV Net keeps per-forward state); the
// registry gives each worker its own instance.
//
//   std::unique_ptr<Engine> e = make_opencv_engine(req);   // opencv_engine.hpp
//   cv::Mat out = e->forward(blob);   // blob [1,3,H,W] float -> raw output

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace osprey::inference {

class Engine {
 public:
  virtual ~Engine() = default;
  // `blob` is a continuous CV_32F NCHW Mat. Returns the raw output as a
  // continuous CV_32F Mat with the model's output shape (Darknet: the YOLO
  // layers' rows concatenated into [1,N,85]). Throws on engine failure.
  virtual cv::Mat forward(const cv::Mat& blob) = 0;

  // Intra-op threads of the next forwards that the calling thread runs.
  // Only engines whose thread count is the calling thread's own setting
  // (libtorch: OpenMP's per-thread team size) can honour it per call; the
  // others (OpenCV: one process-wide pool) ignore it and say so below.
  virtual void set_threads(int n) { (void)n; }
  virtual bool threads_per_call() const { return false; }
};

// Shape of an N-dim Mat as int64 (for ModelInfo / KServe).
inline std::vector<int64_t> mat_shape(const cv::Mat& m) {
  std::vector<int64_t> s;
  for (int i = 0; i < m.dims; ++i) s.push_back(m.size[i]);
  return s;
}

}  // namespace osprey::inference
