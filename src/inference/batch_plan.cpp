#include "inference/batch_plan.hpp"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "inference/batcher.hpp"

namespace osprey::inference {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

ModelInfo::BatchPlan plan_batching(const std::vector<std::unique_ptr<Engine>>& pool, const cv::Mat& blob,
                                   const ModelSpec& spec, const ModelInfo::ThreadPlan& tp, int cores) {
  ModelInfo::BatchPlan bp;
  bp.mode = spec.batching;
  bp.max_batch = std::max(1, spec.max_batch);
  bp.max_delay_us = spec.batch_delay_us;
  if (bp.mode == "off") {
    bp.reason = "batching = off";
    return bp;
  }
  if (spec.engine != "libtorch") {
    bp.reason = "the OpenCV engine runs one image per forward";
    return bp;
  }
  if (bp.max_batch < 2 || pool.empty()) {
    bp.reason = "max_batch 1 (a batch holds at most one request per inference worker)";
    return bp;
  }
  // One untimed run, then the faster of two.
  auto best_of_two = [](const std::function<void()>& run) {
    run();
    double best = 0;
    for (int i = 0; i < 2; ++i) {
      const auto t = Clock::now();
      run();
      best = i ? std::min(best, ms_since(t)) : ms_since(t);
    }
    return best;
  };
  const int side_by_side =
      std::max(1, std::min(int(pool.size()), cores / std::max(1, tp.threads_min)));
  // The same threads for every run, as the workers would be: a thread's
  // first forward pays for its set-up.
  std::barrier go(side_by_side + 1), done(side_by_side + 1);
  std::vector<std::thread> th;
  for (int i = 0; i < side_by_side; ++i) {
    th.emplace_back([&, i] {
      pool[size_t(i)]->set_threads(tp.threads_min);
      for (int run = 0; run < 3; ++run) {
        go.arrive_and_wait();
        try {
          pool[size_t(i)]->forward(blob);
        } catch (...) {  // it ran at load already; a failure here only spoils the timing
        }
        done.arrive_and_wait();
      }
    });
  }
  const double apart = best_of_two([&] {
    go.arrive_and_wait();
    done.arrive_and_wait();
  }) / side_by_side;
  for (auto& t : th) t.join();
  bp.ms_per_image.emplace_back(1, apart);
  double batched = 0;
  try {
    cv::Mat batch = stack_blobs(std::vector<cv::Mat>(size_t(bp.max_batch), blob));
    Engine& e = *pool[0];
    e.set_threads(tp.threads_alone);
    cv::Mat out;
    batched = best_of_two([&] { out = e.forward(batch); }) / bp.max_batch;
    if (out.dims < 1 || out.size[0] != bp.max_batch) throw std::runtime_error("its output is not a batch");
    bp.ms_per_image.emplace_back(bp.max_batch, batched);
  } catch (const std::exception& ex) {
    bp.reason = fmt::format("the graph does not take a batch of {}: {}", bp.max_batch, ex.what());
    if (bp.reason.size() > 300) bp.reason.resize(300);
    return bp;
  }
  const std::string measured = fmt::format("measured {:.0f} ms per image in a batch of {} at {} thread{}, {:.0f} ms "
                                           "in {} forward{} side by side",
                                           batched, bp.max_batch, tp.threads_alone, tp.threads_alone == 1 ? "" : "s",
                                           apart, side_by_side, side_by_side == 1 ? "" : "s");
  // Forwards side by side also overlap one request's forward with another's
  // pre- and postprocessing, which a batch does not: it must save a fifth.
  bp.enabled = bp.mode == "on" || batched < apart * 0.8;
  bp.reason = bp.mode == "on" ? "batching = on; " + measured
                              : measured + (bp.enabled ? ": the batch is faster" : ": no gain, one image per forward");
  return bp;
}

}  // namespace osprey::inference
