#pragma once
// ModelRegistry: the model repository and the only way to run a model.
//
// The repository is a directory (InferenceConfig::models_dir) with one
// sub-folder per model; the folder name is the model name. A folder holds the
// model file(s) (.cfg+.weights = Darknet, .onnx, or .torchscript), coco.names,
// and optionally model.toml with any of these keys (the same keys are accepted
// as JSON overrides by load()):
//   family = "darknet"|"yolov5"|"yolov8"|"yolox"   (default: from output shape)
//   input_width, input_height                      (default: from the file)
//   confidence, iou                                 (defaults 0.25 / 0.45)
//   names_file = "coco.names"                       (default: coco.names, else
//                                                    the names in the file)
//   engine = "opencv"|"libtorch"                   (default: by format)
//   precision = "fp32"|"bf16"|"auto"               (libtorch; default auto)
//   batching = "auto"|"on"|"off", max_batch = N    (libtorch; default auto,
//                                                    cfg.max_batch)
//
//   ModelRegistry reg(cfg.inference);
//   reg.scan();                                     // startup: load every folder
//   auto r = co_await reg.detect("yolov8n", bgr, {}); // from an I/O coroutine
//   auto r2 = reg.detect_sync("yolov8n", bgr, {});  // CLI and tests
//
// Threads: inference runs on the registry's own worker pool (cfg.workers
// threads, default = cores). OpenCV forwards use cfg.engine_threads intra-op
// threads (default = cores / workers, so nothing is oversubscribed; one
// process-wide setting). With engine_threads left at 0, a libtorch forward
// takes the cores free when it starts: all of them alone, its share beside
// other forwards (ModelInfo::thread_plan; measured at load: a model whose
// forward gains too little from a second thread keeps 1). Every model holds
// one engine instance per worker (an OpenCV Net is not thread-safe), and a
// bounded count of waiting requests (cfg.max_queue; beyond it detect() throws
// ApiError 503 code "queue_full"). Dynamic batching (batcher.hpp): a
// TorchScript model runs the requests that are on workers at once as one
// forward of up to min(cfg.max_batch, workers) images, where that measured
// faster at load (ModelInfo::batching; model.toml `batching`, `max_batch`);
// OpenCV models run one image per forward.
// The process should call reexec_with_passive_openmp() (threads.hpp) first
// thing in main(): libtorch's OpenMP threads otherwise spin between forwards.
//
// Metrics (metrics::Registry::global(), label model): counters
// osprey_inference_request_success_total / _failure_total, histograms
// osprey_inference_queue_duration_seconds / _compute_duration_seconds, gauge
// osprey_inference_queue_depth.
//
// load() and unload() BLOCK the calling thread (loading takes ~0.1-1 s per
// model, unload waits for that model's in-flight requests): call them from
// cpu_pool() or a background thread, never from an I/O thread. They take no
// lock that detect() on other models needs, and a reload keeps serving the old
// instance until the new one is ready.
//
// Models that fail (unsupported ops, a forward that throws at warm-up, bad
// model.toml) are listed with state "unavailable" and the reason; they never
// stop the others.

#include <utility>  // before Asio (g++ 12)

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "config/config.hpp"
#include "inference/detection.hpp"
#include "inference/model_info.hpp"
#include "inference/threads.hpp"

namespace osprey::inference {

class Model;  // one loaded (or failed) model; internal, see model.hpp

class ModelRegistry {
 public:
  explicit ModelRegistry(config::InferenceConfig cfg);
  ~ModelRegistry();  // waits for in-flight requests, joins the pools
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Loads every sub-folder of models_dir (blocking; used at startup). Folders
  // that fail are listed as "unavailable". A missing models_dir logs a warning.
  void scan();

  // Sorted by name.
  std::vector<ModelInfo> list() const;
  std::optional<ModelInfo> info(std::string_view name) const;

  // (Re)loads `name` from its repository folder with optional overrides (same
  // keys as model.toml). Blocking (see above). Throws ApiError 404 if there is
  // no such folder, 400 on a bad override or name. A model that fails to load
  // is returned (and listed) with state "unavailable"; on a failed RELOAD the
  // old instance keeps serving and the returned info carries the new reason.
  ModelInfo load(std::string_view name, const nlohmann::json& overrides);

  // False if unknown. Removes the model at once (new requests get 404) and
  // waits for its in-flight requests to finish.
  bool unload(std::string_view name);

  // Throws ApiError 404 unknown model, 503 unavailable ("model_unavailable")
  // or queue full ("queue_full"), 400 bad image/options. Runs on the worker
  // threads; resumes on the caller's executor. `bgr` must be 8-bit BGR (1, 3
  // or 4 channels are accepted: gray and BGRA are converted).
  boost::asio::awaitable<DetectResult> detect(std::string name, cv::Mat bgr, DetectOptions opts);
  // The same, blocking the calling thread (CLI, tests). Never call on an I/O thread.
  DetectResult detect_sync(const std::string& name, const cv::Mat& bgr, const DetectOptions& opts);

  // Raw tensor in / raw tensor out (KServe v2 infer).
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> data;
  };
  // `input` is already preprocessed NCHW float matching info().input_shape
  // (400 otherwise); returns the raw output tensor (Darknet: the YOLO layers'
  // rows concatenated, [1,N,85]). Same errors as detect().
  boost::asio::awaitable<Tensor> infer_raw(std::string name, Tensor input);
  Tensor infer_raw_sync(const std::string& name, Tensor input);

  // For image decode/annotate work by handlers (not the inference workers).
  boost::asio::thread_pool& cpu_pool();

  // config default_model if set, else the first available preferring
  // yolov8n-ts, yolov8n, then any (by name); "" if none is available.
  std::string default_model() const;

  const config::InferenceConfig& config() const { return cfg_; }

 private:
  std::shared_ptr<Model> find(std::string_view name) const;
  std::shared_ptr<Model> admit(std::string_view name) const;  // 404/503 checks
  void warm_workers(Model& m);  // under load_mu_

  config::InferenceConfig cfg_;
  ThreadPlan plan_;
  int workers_n_ = 1;
  int engine_threads_ = 1;
  std::unique_ptr<boost::asio::thread_pool> workers_;
  std::unique_ptr<boost::asio::thread_pool> cpu_;

  mutable std::mutex mu_;  // guards models_ and transient_ (never held while loading)
  std::map<std::string, std::shared_ptr<Model>, std::less<>> models_;
  // First loads in progress ("loading") and drains ("unloading"): listed, not servable.
  std::map<std::string, ModelInfo, std::less<>> transient_;
  std::mutex load_mu_;  // serialises load()/unload() (they are rare)
  std::set<std::string> warmed_engines_;  // under load_mu_
};

}  // namespace osprey::inference
