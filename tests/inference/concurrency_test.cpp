// Concurrency: many threads detecting at once get the same results as one
// thread; the queue bound answers 503 queue_full; unload during traffic waits
// for in-flight requests and never disturbs other models; detect() resumes
// on the caller's executor.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "common/error.hpp"
#include "inference/model_registry.hpp"
#include "inference/torch_engine.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {
namespace fs = std::filesystem;

bool same(const DetectResult& a, const DetectResult& b) {
  if (a.detections.size() != b.detections.size()) return false;
  for (size_t i = 0; i < a.detections.size(); ++i) {
    auto& x = a.detections[i];
    auto& y = b.detections[i];
    if (x.class_id != y.class_id || std::fabs(x.confidence - y.confidence) > 1e-5f ||
        std::fabs(x.box.x1 - y.box.x1) > 0.01f || std::fabs(x.box.y2 - y.box.y2) > 0.01f) {
      return false;
    }
  }
  return true;
}

TEST(Concurrency, ParallelRequestsGiveTheSerialResults) {
  auto& reg = testing::shared_registry();
  const std::vector<std::string> models = {"yolov8n", torch_available() ? "yolov8n-ts" : "yolov5n", "yolox-nano",
                                           "yolo-fastest-1.1"};
  const std::vector<std::string> images = {"dog.jpg", "street.jpg"};
  std::map<std::pair<std::string, std::string>, DetectResult> serial;
  std::map<std::string, cv::Mat> imgs;
  for (auto& i : images) imgs[i] = testing::image(i);
  for (auto& m : models) {
    for (auto& i : images) serial[{m, i}] = reg.detect_sync(m, imgs[i], {});
  }
  std::atomic<int> mismatches{0}, errors{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        auto& m = models[(t + k) % models.size()];
        auto& i = images[(t / 2 + k) % images.size()];
        try {
          auto r = reg.detect_sync(m, imgs[i], {});
          if (!same(r, serial[{m, i}])) ++mismatches;
          ++done;
        } catch (const std::exception& e) {
          ++errors;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), 32);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
}

TEST(Concurrency, AsyncDetectResumesOnTheCallersExecutor) {
  auto& reg = testing::shared_registry();
  boost::asio::io_context io;
  std::thread::id io_thread, resumed_on;
  size_t n = 0;
  std::exception_ptr err;
  cv::Mat img = testing::image("dog.jpg");
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::string model = "yolox-nano", missing = "no-such-model";
        DetectOptions opts;
        auto r = co_await reg.detect(model, img, opts);
        resumed_on = std::this_thread::get_id();
        n = r.detections.size();
        EXPECT_GT(r.timings.inference_ms, 0);
        // Temporaries as arguments are fine too (copied into the frame).
        auto r2 = co_await reg.detect(std::string("yolox-nano"), img.clone(), DetectOptions{});
        EXPECT_EQ(r2.detections.size(), r.detections.size());
        try {
          co_await reg.detect(missing, img, opts);
        } catch (const ApiError& e) {
          EXPECT_EQ(e.status(), 404);
        }
      },
      [&](std::exception_ptr e) { err = e; });
  io_thread = std::this_thread::get_id();
  io.run();
  EXPECT_FALSE(err);
  EXPECT_EQ(resumed_on, io_thread);
  EXPECT_GE(n, 3u);
}

TEST(Concurrency, QueueBoundAnswers503) {
  fs::path root = fs::path(::testing::TempDir()) / "queue-bound";
  fs::remove_all(root);
  fs::create_directories(root / "nano");
  auto shared = fs::path(testing::shared_dir()) / "models" / "yolox-nano";
  fs::create_symlink(shared / "yolox_nano.onnx", root / "nano" / "yolox_nano.onnx");
  fs::create_symlink(shared / "coco.names", root / "nano" / "coco.names");
  config::InferenceConfig cfg;
  cfg.models_dir = root.string();
  cfg.workers = 1;
  cfg.max_queue = 2;
  ModelRegistry reg(cfg);
  reg.scan();
  cv::Mat img = testing::image("street.jpg");
  const int n = 12;
  std::barrier sync(n);
  std::atomic<int> ok{0}, full{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      sync.arrive_and_wait();
      try {
        reg.detect_sync("nano", img, {});
        ++ok;
      } catch (const ApiError& e) {
        (e.status() == 503 && e.code() == "queue_full" ? full : other)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(full.load(), 1);  // 12 arrive within microseconds; a forward takes tens of ms
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + full, n);
  // The queue drains: the next request is served.
  EXPECT_NO_THROW(reg.detect_sync("nano", img, {}));
}

TEST(Concurrency, UnloadDuringTrafficWaitsAndSparesOtherModels) {
  auto& reg = testing::shared_registry();
  cv::Mat img = testing::image("dog.jpg");
  const std::string other = torch_available() ? "yolov8n-ts" : "yolov8n";
  auto ref_other = reg.detect_sync(other, img, {});
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, gone{0}, other_ok{0}, bad{0};
  std::vector<std::thread> traffic;
  for (int t = 0; t < 3; ++t) {
    traffic.emplace_back([&] {
      while (!stop) {
        try {
          reg.detect_sync("yolox-nano", img, {});
          ++served;
        } catch (const ApiError& e) {
          if (e.status() == 404 || e.status() == 503) ++gone;
          else ++bad;
        }
      }
    });
  }
  traffic.emplace_back([&] {
    while (!stop) {
      try {
        if (same(reg.detect_sync(other, img, {}), ref_other)) ++other_ok;
        else ++bad;
      } catch (...) {
        ++bad;
      }
    }
  });
  while (served < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(reg.unload("yolox-nano"));
  EXPECT_FALSE(reg.info("yolox-nano").has_value());
  // Load it back while traffic continues (other tests use it).
  auto info = reg.load("yolox-nano", nullptr);
  EXPECT_EQ(info.state, "available");
  int before = served;
  while (served < before + 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& th : traffic) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(other_ok.load(), 0);
  EXPECT_GT(gone.load(), 0);  // requests between unload and load were refused cleanly
}

}  // namespace
}  // namespace osprey::inference
