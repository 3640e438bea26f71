#include "inference/model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "inference/batch_plan.hpp"
#include "inference/cpu_features.hpp"
#include "inference/decode.hpp"
#include "inference/onnx_info.hpp"
#include "inference/onnx_rewrite.hpp"
#include "inference/opencv_engine.hpp"
#include "inference/preprocess.hpp"
#include "inference/torch_engine.hpp"
#include "metrics/registry.hpp"

namespace osprey::inference {
namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Grid cells over strides 8/16/32 for an input size (anchor-free count).
int64_t grid_cells(int w, int h) {
  int64_t n = 0;
  for (int s : {8, 16, 32}) n += int64_t(w / s) * (h / s);
  return n;
}

// Family from the raw output shape; "" when it fits none.
std::string family_from_shape(const std::vector<int64_t>& s, int w, int h) {
  if (s.size() != 3 || s[0] != 1) return "";
  const int64_t g = grid_cells(w, h);
  if (s[2] > 5 && s[1] == 3 * g) return "yolov5";
  if (s[2] > 5 && s[1] == g) return "yolox";
  if (s[1] > 4 && s[2] == g) return "yolov8";
  return "";
}

// Checks that an output shape can be decoded as `family`; returns the class count.
int classes_in_output(const std::string& family, const std::vector<int64_t>& s, int w, int h) {
  if (s.size() != 3 || s[0] != 1) throw std::runtime_error("unexpected output rank for family " + family);
  if (family == "yolov8") return int(s[1] - 4);
  if (family == "yolox" && s[1] != grid_cells(w, h)) {
    throw std::runtime_error("yolox output rows do not match the input grid");
  }
  return int(s[2] - 5);
}

// Ultralytics config.txt: {"shape":[1,3,H,W]} (v5) or {"imgsz":[H,W]} (v8),
// names as a list or {"0":"person",...}.
void read_torch_config(const std::string& text, int* w, int* h, std::vector<std::string>* names) {
  if (text.empty()) return;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  if (j.contains("imgsz") && j["imgsz"].is_array() && j["imgsz"].size() == 2 && j["imgsz"][0].is_number_integer()) {
    *h = j["imgsz"][0].get<int>();
    *w = j["imgsz"][1].get<int>();
  } else if (j.contains("shape") && j["shape"].is_array() && j["shape"].size() == 4 &&
             j["shape"][2].is_number_integer()) {
    *h = j["shape"][2].get<int>();
    *w = j["shape"][3].get<int>();
  }
  if (j.contains("names")) {
    auto& n = j["names"];
    if (n.is_array()) {
      for (auto& x : n) names->push_back(x.is_string() ? x.get<std::string>() : x.dump());
    } else if (n.is_object()) {
      names->resize(n.size());
      for (auto& [k, v] : n.items()) {
        char* end = nullptr;
        long i = std::strtol(k.c_str(), &end, 10);
        if (*end == 0 && i >= 0 && i < long(names->size()) && v.is_string()) (*names)[i] = v.get<std::string>();
      }
    }
  }
}

}  // namespace

// ---- loading ---------------------------------------------------------------

std::shared_ptr<Model> Model::failed(ModelInfo info) {
  std::shared_ptr<Model> m(new Model());
  info.state = "unavailable";
  m->info_ = std::move(info);
  m->bind_metrics();
  return m;
}

std::shared_ptr<Model> Model::load(const ModelSpec& spec, const ThreadPlan& plan) {
  const int instances = plan.workers;
  std::shared_ptr<Model> m(new Model());
  ModelInfo& info = m->info_;
  info.name = spec.name;
  info.path = spec.model_path;
  info.format = spec.format;
  info.engine = spec.engine;
  info.family = spec.family;
  info.default_confidence = spec.confidence;
  info.default_iou = spec.iou;
  const auto t0 = Clock::now();
  try {
    std::vector<std::string> embedded_names;
    int file_w = 0, file_h = 0;
    std::function<std::unique_ptr<Engine>()> make;
    if (spec.format == "onnx") {
      OnnxInfo oi;
      try {
        oi = read_onnx_info(spec.model_path);
      } catch (const std::exception& e) {
        spdlog::warn("inference: {}: cannot read ONNX metadata ({}); continuing", spec.name, e.what());
      }
      if (!oi.inputs.empty()) {
        info.input_name = oi.inputs[0].name;
        auto& s = oi.inputs[0].shape;
        if (s.size() == 4 && s[2] > 0 && s[3] > 0) { file_h = int(s[2]); file_w = int(s[3]); }
      }
      if (!oi.outputs.empty()) info.output_name = oi.outputs[0].name;
      embedded_names = oi.names;
      const char* no_fix = std::getenv("OSPREY_OPENCV_NO_WORKAROUND");  // "1": A/B only
      if (no_fix && std::string(no_fix) == "1" && !oi.scaled_matmuls.empty()) {
        spdlog::warn("inference: {}: OSPREY_OPENCV_NO_WORKAROUND=1, scores will be wrong", spec.name);
        oi.scaled_matmuls.clear();
      }
      if (!oi.scaled_matmuls.empty()) {
        spdlog::info("inference: {}: OpenCV 4.6 attention-scale workaround on {}", spec.name,
                     fmt::join(oi.scaled_matmuls, ", "));
        info.rewrites.push_back(fmt::format("attention scale kept: output of {} requested with each forward (OpenCV "
                                            "4.6 fuses the scale away otherwise)",
                                            fmt::join(oi.scaled_matmuls, ", ")));
      }
      OpenCvLoad req{spec.model_path, "", oi.scaled_matmuls};
      // Stock graphs OpenCV 4.6 cannot run (quantize_dynamic chains, the v8
      // head's [1,A] stride constant) are rewritten in memory. If the rewrite
      // fails, OpenCV gets the file as it is and reports its own error.
      try {
        OnnxRewrite rw = rewrite_file_for_opencv(spec.model_path);
        if (!rw.model.empty()) {
          spdlog::info("inference: {}: graph rewritten for OpenCV 4.6: {}", spec.name, fmt::join(rw.applied, "; "));
          req.onnx_bytes = std::move(rw.model);
          info.rewrites = rw.applied;
        }
      } catch (const std::exception& e) {
        spdlog::warn("inference: {}: ONNX rewrite skipped ({})", spec.name, e.what());
      }
      make = [req] { return make_opencv_engine(req); };
    } else if (spec.format == "darknet") {
      std::tie(file_w, file_h) = darknet_input_size(spec.model_path);
      info.input_name = "data";
      info.output_name = "yolo";
      OpenCvLoad req{spec.model_path, spec.weights_path, {}};
      make = [req] { return make_opencv_engine(req); };
    } else {
      info.input_name = "x";
      info.output_name = "output0";
      std::string path = spec.model_path;
      info.precision = resolve_precision(spec.precision, cpu_features());
      bool bf16 = info.precision == "bf16";
      make = [path, bf16] { return make_torch_engine(path, nullptr, bf16); };
    }

    // First instance: also reads TorchScript metadata.
    std::unique_ptr<Engine> first;
    if (spec.format == "torchscript") {
      std::string config_txt;
      first = make_torch_engine(spec.model_path, &config_txt, info.precision == "bf16");
      read_torch_config(config_txt, &file_w, &file_h, &embedded_names);
    } else {
      first = make();
    }
    info.input_width = spec.input_width ? spec.input_width : (file_w ? file_w : 640);
    info.input_height = spec.input_height ? spec.input_height : (file_h ? file_h : 640);
    info.input_shape = {1, 3, info.input_height, info.input_width};

    // Warm-up forward: sets up OpenCV's layers (where yolov8n-stockhead
    // asserts) and tells the output shape. Torch gets a second run because
    // its profiling executor specialises the graph on the second call; that
    // run and a third are timed at 1 and at every core, for the thread plan.
    cv::Mat blob(4, std::vector<int>{1, 3, info.input_height, info.input_width}.data(), CV_32F, cv::Scalar(0.5f));
    cv::Mat out = first->forward(blob);
    m->cores_ = plan.cores;
    m->per_call_threads_ = first->threads_per_call();
    auto& tp = info.thread_plan;
    tp.instances = instances;
    tp.threads_alone = tp.threads_min = plan.engine_threads;
    auto timed = [&](int threads) {
      first->set_threads(threads);
      auto t = Clock::now();
      out = first->forward(blob);
      tp.forward_ms.emplace_back(threads, ms_since(t));
    };
    if (m->per_call_threads_ && plan.elastic && plan.cores > 1) {
      // Another thread helps only if the forward has enough parallel work
      // for it: keep it where it saves at least a sixth.
      timed(1);
      timed(plan.cores);
      tp.threads_min = 1;
      tp.threads_alone = tp.forward_ms[1].second < tp.forward_ms[0].second * 0.83 ? plan.cores : 1;
    } else {
      timed(plan.engine_threads);
    }
    info.output_shape = mat_shape(out);
    if (info.family.empty()) {
      info.family = family_from_shape(info.output_shape, info.input_width, info.input_height);
      if (info.family.empty()) {
        throw std::runtime_error(fmt::format("cannot infer the family from output shape [{}]; set family in model.toml",
                                             fmt::join(info.output_shape, ",")));
      }
    }
    int nc = classes_in_output(info.family, info.output_shape, info.input_width, info.input_height);
    if (nc <= 0) throw std::runtime_error("output has no class columns");

    std::string names_from;
    if (!spec.names_file.empty()) {
      info.classes = read_names_file(spec.names_file);
      names_from = spec.names_file;
    } else if (!embedded_names.empty()) {
      info.classes = embedded_names;
      names_from = "embedded metadata";
    } else {
      names_from = "none (class_N)";
    }
    if (int(info.classes.size()) != nc) {
      if (!info.classes.empty()) {
        spdlog::warn("inference: {}: {} names for {} classes; padding/truncating", spec.name, info.classes.size(), nc);
      }
      for (int i = int(info.classes.size()); i < nc; ++i) info.classes.push_back("class_" + std::to_string(i));
      info.classes.resize(nc);
    }

    if (!m->per_call_threads_ || !plan.elastic) tp.threads_alone = tp.threads_min = plan.engine_threads;
    m->pool_.push_back(std::move(first));
    for (int i = 1; i < instances; ++i) {
      auto e = make();
      e->forward(blob);
      // Each team size a forward may get, so that none meets it first in a
      // request (oneDNN sets up kernels per thread count).
      for (int threads : {tp.threads_min, tp.threads_alone}) {
        e->set_threads(threads);
        if (spec.format == "torchscript") e->forward(blob);
        if (tp.threads_min == tp.threads_alone) break;
      }
      m->pool_.push_back(std::move(e));
    }
    info.batching = plan_batching(m->pool_, blob, spec, tp, plan.cores);
    const auto& bp = info.batching;
    if (bp.enabled) {
      // Every other instance meets the batch shape now, not in a request.
      cv::Mat batch = stack_blobs(std::vector<cv::Mat>(size_t(bp.max_batch), blob));
      for (size_t i = 1; i < m->pool_.size(); ++i) {
        m->pool_[i]->set_threads(tp.threads_alone);
        m->pool_[i]->forward(batch);
        m->pool_[i]->forward(batch);
      }
      Model* raw = m.get();
      m->batcher_ = std::make_unique<Batcher>(
          Batcher::Options{bp.max_batch, std::chrono::microseconds(bp.max_delay_us)},
          [raw] { return raw->preparing_.load() > 0 || raw->waiting_.load() > 0; });
    }
    info.state = "available";
    info.load_ms = ms_since(t0);
    info.loaded_at = iso_now();
    spdlog::info("inference: {} available: format={} engine={} precision={} family={} input={}x{} output=[{}] "
                 "classes={} (names: {}), thread plan {}, batching {}, in {:.0f} ms",
                 info.name, info.format, info.engine, info.precision, info.family, info.input_width,
                 info.input_height, fmt::join(info.output_shape, ","), nc, names_from, tp.describe(),
                 bp.describe(), info.load_ms);
  } catch (const std::exception& e) {
    m->pool_.clear();
    info.state = "unavailable";
    info.reason = e.what();
    // OpenCV messages end in "\n> \n"-style continuation lines.
    while (!info.reason.empty() && (std::isspace(static_cast<unsigned char>(info.reason.back())) ||
                                    info.reason.back() == '>')) {
      info.reason.pop_back();
    }
    info.load_ms = ms_since(t0);
    info.loaded_at = iso_now();
    spdlog::warn("inference: {} unavailable ({} via {}): {}", info.name, info.format, info.engine, info.reason);
  }
  m->bind_metrics();
  return m;
}

void Model::bind_metrics() {
  auto& reg = metrics::Registry::global();
  metrics::Labels l{{"model", info_.name}};
  success_ = &reg.counter("osprey_inference_request_success_total", "Inference requests that succeeded", l);
  failure_ = &reg.counter("osprey_inference_request_failure_total", "Inference requests that failed", l);
  queue_hist_ = &reg.histogram("osprey_inference_queue_duration_seconds",
                               "Time a request waited for an inference worker", l);
  compute_hist_ = &reg.histogram("osprey_inference_compute_duration_seconds",
                                 "Preprocess + forward + postprocess time of a request", l);
  depth_ = &reg.gauge("osprey_inference_queue_depth", "Requests waiting for an inference worker", l);
  batch_hist_ = &reg.histogram("osprey_inference_batch_size", "Images per forward (dynamic batching)", l,
                               {1, 2, 3, 4, 6, 8, 12, 16, 32, 64});
}

ModelInfo Model::info() const {
  std::lock_guard lk(mu_);
  return info_;
}

bool Model::available() const {
  std::lock_guard lk(mu_);
  return info_.state == "available";
}

void Model::set_state(const std::string& state) {
  std::lock_guard lk(mu_);
  info_.state = state;
}

// ---- requests --------------------------------------------------------------

Model::Ticket::Ticket(std::shared_ptr<Model> m) : m_(std::move(m)), t0_(Clock::now()) {
  m_->inflight_.fetch_add(1);
}

void Model::Ticket::started() {
  if (started_) return;
  started_ = true;
  m_->waiting_.fetch_sub(1);
  m_->depth_->dec();
  m_->queue_hist_->observe(std::chrono::duration<double>(Clock::now() - t0_).count());
}

Model::Ticket::~Ticket() {
  if (!started_) {
    m_->waiting_.fetch_sub(1);
    m_->depth_->dec();
  }
  if (m_->inflight_.fetch_sub(1) == 1) {
    std::lock_guard lk(m_->idle_mu_);
    m_->idle_cv_.notify_all();
  }
}

std::shared_ptr<Model::Ticket> Model::admit(int max_queue) {
  int w = waiting_.fetch_add(1);
  if (w >= std::max(1, max_queue)) {
    waiting_.fetch_sub(1);
    failure_->inc();
    ApiError e(503, fmt::format("model '{}' has {} requests waiting; retry later", info_.name, w), "server_error",
               "queue_full");
    e.headers.emplace_back("Retry-After", "1");
    throw e;
  }
  depth_->inc();
  return std::make_shared<Ticket>(shared_from_this());
}

void Model::warm_up() {
  cv::Mat grey(480, 640, CV_8UC3, cv::Scalar(114, 114, 114));
  Letterbox lb;
  cv::Mat blob = make_blob(grey, info_.family, info_.input_width, info_.input_height, &lb);
  double ms = 0;
  forward(blob, &ms);
}

void Model::wait_idle() {
  std::unique_lock lk(idle_mu_);
  idle_cv_.wait(lk, [&] { return inflight_.load() == 0; });
}

std::unique_ptr<Engine> Model::acquire() {
  std::unique_lock lk(mu_);
  // One instance per worker thread, so this wait is short or absent.
  pool_cv_.wait(lk, [&] { return !pool_.empty(); });
  auto e = std::move(pool_.back());
  pool_.pop_back();
  return e;
}

void Model::release(std::unique_ptr<Engine> e) {
  {
    std::lock_guard lk(mu_);
    pool_.push_back(std::move(e));
  }
  pool_cv_.notify_one();
}

cv::Mat Model::forward(const cv::Mat& blob, double* ms, int* batch) {
  const auto t0 = Clock::now();
  if (!batcher_) {
    cv::Mat out = forward_on_engine(blob);
    *ms = ms_since(t0);
    batch_hist_->observe(1);
    if (batch) *batch = 1;
    return out;
  }
  // The time reported is the wait for company plus the batch's forward.
  auto r = batcher_->run(blob, [this](const cv::Mat& b) {
    cv::Mat out = forward_on_engine(b);
    batch_hist_->observe(b.size[0]);
    return out;
  });
  *ms = ms_since(t0);
  if (batch) *batch = r.batch;
  return r.output;
}

cv::Mat Model::forward_on_engine(const cv::Mat& blob) {
  auto e = acquire();
  RunningForward running;  // see inference/threads.hpp
  if (per_call_threads_) {
    const auto& tp = info_.thread_plan;  // fixed once loaded
    e->set_threads(std::clamp(running.share(cores_), tp.threads_min, tp.threads_alone));
  }
  try {
    cv::Mat out = e->forward(blob);
    release(std::move(e));
    return out;
  } catch (...) {
    release(std::move(e));
    throw;
  }
}

DetectResult Model::detect(Ticket& t, const cv::Mat& image, const DetectOptions& opts) {
  // Counted as on its way to a forward until it gets there (or fails), so
  // that a forming batch waits for it (Batcher's more_coming).
  struct Preparing {
    std::atomic<int>& n;
    bool on = true;
    explicit Preparing(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
    void done() { if (on) { on = false; n.fetch_sub(1); } }
    ~Preparing() { done(); }
  } preparing(preparing_);
  t.started();
  DetectResult r;
  r.timings.queue_ms = ms_since(t.admitted());
  const auto t_compute = Clock::now();
  try {
    if (image.empty() || image.depth() != CV_8U) throw bad_request("image must be a non-empty 8-bit image", "image");
    cv::Mat bgr = image;
    if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    else if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
    else if (image.channels() != 3) throw bad_request("image must have 1, 3 or 4 channels", "image");
    for (int c : opts.classes) {
      if (c < 0 || c >= int(info_.classes.size())) {
        throw bad_request(fmt::format("class id {} out of range [0, {})", c, info_.classes.size()), "classes");
      }
    }

    auto t0 = Clock::now();
    Letterbox lb;
    cv::Mat blob = make_blob(bgr, info_.family, info_.input_width, info_.input_height, &lb);
    r.timings.preprocess_ms = ms_since(t0);

    preparing.done();
    cv::Mat out = forward(blob, &r.timings.inference_ms, &r.timings.batch);

    t0 = Clock::now();
    DecodeParams p;
    p.confidence = opts.confidence >= 0 ? opts.confidence : info_.default_confidence;
    p.iou = opts.iou >= 0 ? opts.iou : info_.default_iou;
    p.max_detections = opts.max_detections;
    p.classes = opts.classes;
    p.multi_label = opts.multi_label;
    r.detections = decode(out, info_.family, info_.input_width, info_.input_height, lb, p, info_.classes);
    r.timings.postprocess_ms = ms_since(t0);
  } catch (...) {
    failure_->inc();
    compute_hist_->observe(std::chrono::duration<double>(Clock::now() - t_compute).count());
    throw;
  }
  success_->inc();
  compute_hist_->observe(std::chrono::duration<double>(Clock::now() - t_compute).count());
  return r;
}

ModelRegistry::Tensor Model::infer_raw(Ticket& t, const ModelRegistry::Tensor& in) {
  t.started();
  const auto t_compute = Clock::now();
  try {
    if (in.shape != info_.input_shape) {
      throw bad_request(fmt::format("input shape must be [{}]", fmt::join(info_.input_shape, ",")), "shape");
    }
    size_t n = 1;
    for (auto d : in.shape) n *= size_t(d);
    if (in.data.size() != n) throw bad_request(fmt::format("input has {} values, expected {}", in.data.size(), n), "data");
    std::vector<int> sz(in.shape.begin(), in.shape.end());
    cv::Mat blob(int(sz.size()), sz.data(), CV_32F, const_cast<float*>(in.data.data()));
    double ms = 0;
    cv::Mat out = forward(blob, &ms);
    ModelRegistry::Tensor res;
    res.name = info_.output_name;
    res.shape = mat_shape(out);
    res.data.assign(out.ptr<float>(), out.ptr<float>() + out.total());
    success_->inc();
    compute_hist_->observe(std::chrono::duration<double>(Clock::now() - t_compute).count());
    return res;
  } catch (...) {
    failure_->inc();
    compute_hist_->observe(std::chrono::duration<double>(Clock::now() - t_compute).count());
    throw;
  }
}

}  // namespace osprey::inference
