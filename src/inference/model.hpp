#pragma once
// Model: one repository folder, loaded (or failed), with its pool of engine
// instances and its request accounting. Internal to the registry; the public
// face is ModelRegistry.
//
// Life of a request:  admit (Ticket) -> worker thread: preprocess, forward
// (acquire an instance, run, release; with batching, the forward may carry
// the blobs of other requests too: batcher.hpp), decode -> Ticket destroyed. A Ticket counts
// the request as in flight until it is destroyed, which is what unload waits
// for; `waiting` (admitted, not yet started) is what max_queue bounds.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "inference/batcher.hpp"
#include "inference/detection.hpp"
#include "inference/engine.hpp"
#include "inference/model_info.hpp"
#include "inference/model_registry.hpp"
#include "inference/model_spec.hpp"
#include "inference/threads.hpp"

namespace osprey::metrics {
class Counter;
class Gauge;
class Histogram;
}  // namespace osprey::metrics

namespace osprey::inference {

using Clock = std::chrono::steady_clock;

class Model : public std::enable_shared_from_this<Model> {
 public:
  // Loads plan.workers engine instances, each warmed up, and measures one
  // forward at 1 and at plan.cores threads to choose how many a forward that
  // runs alone gets (ModelInfo::thread_plan). Never throws: a failure yields
  // state "unavailable" with the reason.
  static std::shared_ptr<Model> load(const ModelSpec& spec, const ThreadPlan& plan);
  // A model that failed before an engine was chosen (bad model.toml, ...).
  static std::shared_ptr<Model> failed(ModelInfo info);

  ModelInfo info() const;
  bool available() const;
  void set_state(const std::string& state);

  class Ticket {
   public:
    explicit Ticket(std::shared_ptr<Model> m);
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Model& model() const { return *m_; }
    Clock::time_point admitted() const { return t0_; }
    void started();  // leaves the waiting count (once)

   private:
    std::shared_ptr<Model> m_;
    Clock::time_point t0_;
    bool started_ = false;
  };
  // Throws ApiError 503 "queue_full" when max_queue requests already wait.
  std::shared_ptr<Ticket> admit(int max_queue);

  // Run on a worker thread. Throw ApiError 400 on bad input.
  DetectResult detect(Ticket& t, const cv::Mat& bgr, const DetectOptions& opts);
  ModelRegistry::Tensor infer_raw(Ticket& t, const ModelRegistry::Tensor& in);

  // Blocks until no request is in flight.
  void wait_idle();

  // Preprocesses a grey picture and runs a forward, as a request would,
  // outside the request accounting: the calling thread's one-time set-up.
  void warm_up();

  int waiting() const { return waiting_.load(); }

 private:
  Model() = default;
  std::unique_ptr<Engine> acquire();
  void release(std::unique_ptr<Engine> e);
  // Through the batcher when batching is on. `batch` receives how many
  // images the forward carried.
  cv::Mat forward(const cv::Mat& blob, double* ms, int* batch = nullptr);
  cv::Mat forward_on_engine(const cv::Mat& blob);
  void bind_metrics();

  mutable std::mutex mu_;  // info_.state, pool_
  ModelInfo info_;
  int cores_ = 1;              // what a forward's threads are a share of
  bool per_call_threads_ = false;  // the engine sizes each forward (libtorch)
  std::vector<std::unique_ptr<Engine>> pool_;
  std::condition_variable pool_cv_;

  std::atomic<int> waiting_{0}, inflight_{0};
  std::atomic<int> preparing_{0};    // started, not yet at the forward
  std::unique_ptr<Batcher> batcher_;  // null: batching off
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;

  metrics::Counter* success_ = nullptr;
  metrics::Counter* failure_ = nullptr;
  metrics::Histogram* queue_hist_ = nullptr;
  metrics::Histogram* compute_hist_ = nullptr;
  metrics::Histogram* batch_hist_ = nullptr;
  metrics::Gauge* depth_ = nullptr;
};

}  // namespace osprey::inference
