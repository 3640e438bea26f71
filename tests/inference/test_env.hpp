#pragma once
// Shared helpers for the inference tests: where the shared data lives and a
// registry config pointing at it.

#include <cstdlib>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "config/config.hpp"

namespace osprey::inference::testing {

inline std::string shared_dir() {
  const char* d = std::getenv("OSPREY_SHARED_DIR");
  return d && *d ? d : "/work/shared";
}

inline config::InferenceConfig shared_models_config(int workers = 2, int engine_threads = 1) {
  config::InferenceConfig c;
  c.models_dir = shared_dir() + "/models";
  c.workers = workers;
  c.engine_threads = engine_threads;
  return c;
}

inline cv::Mat image(const std::string& name) {
  return cv::imread(shared_dir() + "/images/" + name, cv::IMREAD_COLOR);
}

}  // namespace osprey::inference::testing

#include "inference/model_registry.hpp"

namespace osprey::inference::testing {

// One registry over the whole shared repository for a test binary (loading
// all 11 folders takes ~10 s, so it is done once). Deliberately leaked: its
// worker threads must outlive every test.
inline ModelRegistry& shared_registry() {
  static ModelRegistry* reg = [] {
    auto* r = new ModelRegistry(shared_models_config(2, 1));
    r->scan();
    return r;
  }();
  return *reg;
}

}  // namespace osprey::inference::testing
