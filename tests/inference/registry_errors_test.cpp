// Registry behaviour on a small private repository: errors map to the right
// ApiError, failing folders are listed as unavailable, options are validated,
// reload/unload work. Uses yolox-nano (the smallest, fastest model).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "inference/model_registry.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {
namespace fs = std::filesystem;

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 0;
}

std::string code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e.code();
  }
  return "";
}

class RegistryErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::path(::testing::TempDir()) / "registry-errors";
    fs::remove_all(root_);
    auto shared = fs::path(testing::shared_dir()) / "models";
    fs::create_directories(root_ / "nano");
    fs::create_symlink(shared / "yolox-nano" / "yolox_nano.onnx", root_ / "nano" / "yolox_nano.onnx");
    fs::create_symlink(shared / "yolox-nano" / "coco.names", root_ / "nano" / "coco.names");
    std::ofstream(root_ / "nano" / "model.toml") << "confidence = 0.3\n";
    fs::create_directories(root_ / "empty");
    fs::create_directories(root_ / "badtoml");
    fs::create_symlink(shared / "yolox-nano" / "yolox_nano.onnx", root_ / "badtoml" / "yolox_nano.onnx");
    std::ofstream(root_ / "badtoml" / "model.toml") << "colour = \"red\"\n";
    // The first 64 KiB of a real ONNX file: neither the metadata reader nor
    // the load-time rewrite nor OpenCV can use it.
    fs::create_directories(root_ / "truncated");
    {
      std::ifstream in(shared / "yolov8n-int8" / "yolov8n_int8_dynamic.onnx", std::ios::binary);
      std::string head(64 * 1024, '\0');
      in.read(head.data(), std::streamsize(head.size()));
      std::ofstream(root_ / "truncated" / "m.onnx", std::ios::binary) << head;
    }
    config::InferenceConfig cfg;
    cfg.models_dir = root_.string();
    cfg.workers = 1;
    reg_ = new ModelRegistry(cfg);
    reg_->scan();
  }
  static void TearDownTestSuite() { delete reg_; }
  static inline fs::path root_;
  static inline ModelRegistry* reg_ = nullptr;
};

TEST_F(RegistryErrors, ListsEveryFolderWithItsState) {
  auto all = reg_->list();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "badtoml");
  EXPECT_EQ(all[0].state, "unavailable");
  EXPECT_NE(all[0].reason.find("colour"), std::string::npos);
  EXPECT_EQ(all[1].name, "empty");
  EXPECT_EQ(all[1].state, "unavailable");
  EXPECT_NE(all[1].reason.find("no model file"), std::string::npos);
  EXPECT_EQ(all[3].name, "truncated");
  EXPECT_EQ(all[3].state, "unavailable");
  EXPECT_NE(all[3].reason.find("OpenCV"), std::string::npos) << all[3].reason;
  EXPECT_EQ(all[2].name, "nano");
  EXPECT_EQ(all[2].state, "available") << all[2].reason;
  EXPECT_EQ(all[2].family, "yolox");
  EXPECT_EQ(all[2].input_width, 416);
  EXPECT_FLOAT_EQ(all[2].default_confidence, 0.3f);
  EXPECT_EQ(all[2].output_shape, (std::vector<int64_t>{1, 3549, 85}));
  EXPECT_EQ(all[2].classes.size(), 80u);
  auto j = all[2].to_json();
  EXPECT_EQ(j["state"], "available");
  EXPECT_EQ(j["input_shape"], nlohmann::json::array({1, 3, 416, 416}));
  EXPECT_EQ(reg_->default_model(), "nano");
}

TEST_F(RegistryErrors, RequestErrorsMapToStatuses) {
  cv::Mat img = testing::image("dog.jpg");
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nope", img, {}); }), 404);
  EXPECT_EQ(status_of([&] { reg_->detect_sync("truncated", img, {}); }), 503);
  EXPECT_EQ(code_of([&] { reg_->detect_sync("truncated", img, {}); }), "model_unavailable");
  DetectOptions bad;
  bad.confidence = 1.5f;
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nano", img, bad); }), 400);
  bad = {};
  bad.max_detections = 0;
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nano", img, bad); }), 400);
  bad = {};
  bad.classes = {80};
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nano", img, bad); }), 400);
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nano", cv::Mat(), {}); }), 400);
  EXPECT_EQ(status_of([&] { reg_->detect_sync("nano", cv::Mat(10, 10, CV_32FC3), {}); }), 400);
  // Gray and BGRA images are accepted.
  cv::Mat gray(100, 100, CV_8UC1, cv::Scalar(50));
  EXPECT_NO_THROW(reg_->detect_sync("nano", gray, {}));

  ModelRegistry::Tensor t{"images", {1, 3, 320, 320}, std::vector<float>(3 * 320 * 320)};
  EXPECT_EQ(status_of([&] { reg_->infer_raw_sync("nano", t); }), 400);
  t.shape = {1, 3, 416, 416};
  EXPECT_EQ(status_of([&] { reg_->infer_raw_sync("nano", t); }), 400);  // wrong data size
  t.data.assign(3 * 416 * 416, 0.5f);
  auto out = reg_->infer_raw_sync("nano", t);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 3549, 85}));
  EXPECT_EQ(out.data.size(), 3549u * 85u);
  EXPECT_EQ(out.name, "output");
}

TEST_F(RegistryErrors, LoadValidatesNamesAndOverrides) {
  EXPECT_EQ(status_of([&] { reg_->load("../etc", nullptr); }), 400);
  EXPECT_EQ(status_of([&] { reg_->load("missing", nullptr); }), 404);
  EXPECT_EQ(status_of([&] { reg_->load("nano", nlohmann::json{{"confidence", 7}}); }), 400);
  EXPECT_EQ(status_of([&] { reg_->load("nano", nlohmann::json{{"unknown", 1}}); }), 400);
  EXPECT_EQ(status_of([&] { reg_->load("nano", nlohmann::json{{"family", "darknet"}}); }), 400);
  EXPECT_EQ(reg_->info("nano")->state, "available");

  // Reload with an override; the new defaults take effect.
  auto info = reg_->load("nano", nlohmann::json{{"confidence", 0.6}});
  EXPECT_EQ(info.state, "available");
  EXPECT_FLOAT_EQ(reg_->info("nano")->default_confidence, 0.6f);
  auto r = reg_->detect_sync("nano", testing::image("dog.jpg"), {});
  for (auto& d : r.detections) EXPECT_GE(d.confidence, 0.6f);

  // Fixing the folder and reloading makes a failed model available.
  std::ofstream(root_ / "badtoml" / "model.toml") << "iou = 0.5\n";
  EXPECT_EQ(reg_->load("badtoml", nullptr).state, "available");
  EXPECT_TRUE(reg_->unload("badtoml"));
  EXPECT_FALSE(reg_->unload("badtoml"));
  EXPECT_FALSE(reg_->info("badtoml").has_value());
  EXPECT_EQ(status_of([&] { reg_->detect_sync("badtoml", testing::image("dog.jpg"), {}); }), 404);
}

TEST(RegistryMissingDir, ScanOfMissingDirIsEmpty) {
  config::InferenceConfig cfg;
  cfg.models_dir = "/nonexistent/models";
  cfg.workers = 1;
  ModelRegistry reg(cfg);
  reg.scan();
  EXPECT_TRUE(reg.list().empty());
  EXPECT_EQ(reg.default_model(), "");
}

}  // namespace
}  // namespace osprey::inference
