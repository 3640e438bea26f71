// Dynamic batching on a real TorchScript model: requests that meet in a
// batched forward get the detections they get alone, the model says what it
// measured and chose, and a batch's size is visible per request and in
// /metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "inference/model_registry.hpp"
#include "inference/torch_engine.hpp"
#include "metrics/registry.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {

// A batched forward may take other oneDNN kernels than a single one, so
// the numbers agree to rounding, not to the bit.
void expect_close(const DetectResult& a, const DetectResult& b, const std::string& what) {
  ASSERT_EQ(a.detections.size(), b.detections.size()) << what;
  for (size_t i = 0; i < a.detections.size(); ++i) {
    auto& x = a.detections[i];
    auto& y = b.detections[i];
    EXPECT_EQ(x.class_id, y.class_id) << what << " #" << i;
    EXPECT_NEAR(x.confidence, y.confidence, 2e-3) << what << " #" << i;
    EXPECT_NEAR(x.box.x1, y.box.x1, 0.5) << what << " #" << i;
    EXPECT_NEAR(x.box.y1, y.box.y1, 0.5) << what << " #" << i;
    EXPECT_NEAR(x.box.x2, y.box.x2, 0.5) << what << " #" << i;
    EXPECT_NEAR(x.box.y2, y.box.y2, 0.5) << what << " #" << i;
  }
}

TEST(Batching, BatchedRequestsGetTheirOwnDetections) {
  if (!torch_available()) GTEST_SKIP() << "built without libtorch";
  auto cfg = testing::shared_models_config(2, 0);
  cfg.max_batch = 4;  // capped at the 2 workers
  cfg.batch_delay_us = 200'000;
  ModelRegistry reg(cfg);
  auto off = reg.load("yolov8n-ts", {{"batching", "off"}});
  ASSERT_EQ(off.state, "available") << off.reason;
  EXPECT_FALSE(off.batching.enabled);
  EXPECT_EQ(off.batching.reason, "batching = off");

  const std::vector<std::string> names = {"dog.jpg", "bus.jpg", "zidane.jpg", "horses.jpg"};
  std::vector<cv::Mat> imgs;
  std::vector<DetectResult> alone;
  for (auto& n : names) {
    imgs.push_back(testing::image(n));
    alone.push_back(reg.detect_sync("yolov8n-ts", imgs.back(), {}));
    EXPECT_EQ(alone.back().timings.batch, 1);
    EXPECT_FALSE(alone.back().detections.empty()) << n;
  }

  auto on = reg.load("yolov8n-ts", {{"batching", "on"}});
  ASSERT_EQ(on.state, "available") << on.reason;
  EXPECT_TRUE(on.batching.enabled);
  EXPECT_EQ(on.batching.max_batch, 2);
  EXPECT_EQ(on.batching.max_delay_us, 200'000);
  ASSERT_EQ(on.batching.ms_per_image.size(), 2u) << on.batching.reason;
  EXPECT_EQ(on.batching.ms_per_image[1].first, 2);
  EXPECT_GT(on.batching.ms_per_image[1].second, 0);
  EXPECT_NE(on.batching.reason.find("batching = on; measured"), std::string::npos) << on.batching.reason;
  auto j = on.to_json();
  EXPECT_EQ(j["batching"]["enabled"], true);
  EXPECT_TRUE(j["batching"]["ms_per_image"].contains("2"));

  // A lone request does not wait for company that is not coming.
  auto t0 = std::chrono::steady_clock::now();
  auto lone = reg.detect_sync("yolov8n-ts", imgs[0], {});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(5000));
  EXPECT_EQ(lone.timings.batch, 1);
  expect_close(lone, alone[0], "lone");

  // Six rounds of four threads: with two workers, pairs meet in a forward.
  std::atomic<int> batched{0};
  for (int round = 0; round < 6; ++round) {
    std::barrier start(int(names.size()));
    std::vector<DetectResult> got(names.size());
    std::vector<std::thread> th;
    for (size_t i = 0; i < names.size(); ++i) {
      th.emplace_back([&, i] {
        start.arrive_and_wait();
        got[i] = reg.detect_sync("yolov8n-ts", imgs[i], {});
      });
    }
    for (auto& t : th) t.join();
    for (size_t i = 0; i < names.size(); ++i) {
      expect_close(got[i], alone[i], names[i]);
      EXPECT_LE(got[i].timings.batch, 2);
      batched += got[i].timings.batch == 2;
    }
  }
  EXPECT_GE(batched.load(), 2);  // at least one forward carried two requests
  auto text = metrics::Registry::global().render();
  EXPECT_NE(text.find("osprey_inference_batch_size_bucket{model=\"yolov8n-ts\",le=\"2\"}"), std::string::npos);

  // auto decides from its measurement, whatever it is on this CPU.
  auto aut = reg.load("yolov8n-ts", {{"batching", "auto"}, {"max_batch", 2}});
  ASSERT_EQ(aut.state, "available");
  EXPECT_EQ(aut.batching.mode, "auto");
  ASSERT_EQ(aut.batching.ms_per_image.size(), 2u) << aut.batching.reason;
  const bool faster = aut.batching.ms_per_image[1].second < aut.batching.ms_per_image[0].second * 0.9;
  EXPECT_EQ(aut.batching.enabled, faster) << aut.batching.reason;
}

TEST(Batching, OpenCvModelsAndBadSettings) {
  auto cfg = testing::shared_models_config(2, 0);
  ModelRegistry reg(cfg);
  auto cv = reg.load("yolox-nano", nullptr);
  ASSERT_EQ(cv.state, "available");
  EXPECT_FALSE(cv.batching.enabled);
  EXPECT_NE(cv.batching.reason.find("OpenCV"), std::string::npos);
  EXPECT_ANY_THROW(reg.load("yolox-nano", {{"batching", "on"}}));
  EXPECT_ANY_THROW(reg.load("yolox-nano", {{"batching", "sometimes"}}));
  EXPECT_ANY_THROW(reg.load("yolox-nano", {{"max_batch", 0}}));
  EXPECT_ANY_THROW(reg.load("yolox-nano", {{"max_batch", "2"}}));
}

}  // namespace
}  // namespace osprey::inference
