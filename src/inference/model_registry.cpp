#include "inference/model_registry.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <latch>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "inference/model.hpp"
#include "inference/model_spec.hpp"
#include "inference/threads.hpp"

namespace osprey::inference {
namespace fs = std::filesystem;
namespace {

void validate_options(const DetectOptions& o) {
  auto unit_or_default = [](float v) { return v == -1.0f || (std::isfinite(v) && v >= 0 && v <= 1); };
  if (!unit_or_default(o.confidence)) throw bad_request("confidence must be in [0, 1]", "confidence");
  if (!unit_or_default(o.iou)) throw bad_request("iou must be in [0, 1]", "iou");
  if (o.max_detections < 1 || o.max_detections > 10000) {
    throw bad_request("max_detections must be in [1, 10000]", "max_detections");
  }
  if (o.classes.size() > 10000) throw bad_request("too many classes", "classes");
}

// Runs fn on `pool`, returning a future (for the blocking entry points).
template <class Fn>
auto run_on(boost::asio::thread_pool& pool, Fn fn) {
  using R = decltype(fn());
  auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
  auto fut = task->get_future();
  boost::asio::post(pool, [task] { (*task)(); });
  return fut;
}

}  // namespace

ModelRegistry::ModelRegistry(config::InferenceConfig cfg) : cfg_(std::move(cfg)) {
  plan_ = plan_threads(cfg_.workers, cfg_.engine_threads);
  workers_n_ = plan_.workers;
  engine_threads_ = plan_.engine_threads;
  configure_engine_threads(engine_threads_);
  workers_ = std::make_unique<boost::asio::thread_pool>(workers_n_);
  cpu_ = std::make_unique<boost::asio::thread_pool>(std::max(1u, std::thread::hardware_concurrency()));
  spdlog::info("inference: {} cores, {} worker threads; threads per forward: {}; max_queue {} per model; "
               "dynamic batching up to {} within {} us where a model gains from it (measured at load)",
               plan_.cores, workers_n_,
               plan_.elastic ? fmt::format("OpenCV {}, libtorch the free cores' share ({} alone, if the model "
                                           "gains from it, else 1: measured at load)",
                                           engine_threads_, plan_.cores)
                             : std::to_string(engine_threads_),
               cfg_.max_queue, std::min(cfg_.max_batch, workers_n_), cfg_.batch_delay_us);
}

ModelRegistry::~ModelRegistry() {
  workers_->join();
  cpu_->join();
}

boost::asio::thread_pool& ModelRegistry::cpu_pool() { return *cpu_; }

void ModelRegistry::scan() {
  fs::path root(cfg_.models_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    spdlog::warn("inference: models_dir '{}' is not a directory; no models loaded", cfg_.models_dir);
    return;
  }
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory() && valid_model_name(e.path().filename().string())) {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    try {
      load(n, nlohmann::json());
    } catch (const std::exception& e) {
      spdlog::warn("inference: {}: {}", n, e.what());
    }
  }
  int ok = 0;
  for (auto& i : list()) ok += i.state == "available";
  spdlog::info("inference: {} of {} models available in {}", ok, names.size(), cfg_.models_dir);
}

std::vector<ModelInfo> ModelRegistry::list() const {
  std::lock_guard lk(mu_);
  std::vector<ModelInfo> out;
  for (auto& [name, m] : models_) out.push_back(m->info());
  for (auto& [name, info] : transient_) {
    if (!models_.count(name)) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

std::optional<ModelInfo> ModelRegistry::info(std::string_view name) const {
  std::lock_guard lk(mu_);
  if (auto it = models_.find(name); it != models_.end()) return it->second->info();
  if (auto it = transient_.find(name); it != transient_.end()) return it->second;
  return std::nullopt;
}

std::shared_ptr<Model> ModelRegistry::find(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second;
}

std::shared_ptr<Model> ModelRegistry::admit(std::string_view name) const {
  std::shared_ptr<Model> m;
  {
    std::lock_guard lk(mu_);
    if (auto it = models_.find(name); it != models_.end()) {
      m = it->second;
    } else if (auto t = transient_.find(name); t != transient_.end()) {
      throw ApiError(503, fmt::format("model '{}' is {}", name, t->second.state), "server_error",
                     "model_unavailable");
    } else {
      throw not_found(fmt::format("model '{}' not found", name), "model_not_found");
    }
  }
  if (!m->available()) {
    auto i = m->info();
    throw ApiError(503, fmt::format("model '{}' is {}: {}", name, i.state, i.reason), "server_error",
                   "model_unavailable");
  }
  return m;
}

ModelInfo ModelRegistry::load(std::string_view name_sv, const nlohmann::json& overrides) {
  std::string name(name_sv);
  if (!valid_model_name(name)) throw bad_request("invalid model name", "name");
  try {
    validate_overrides(overrides);
  } catch (const SpecError& e) {
    throw bad_request(e.what(), e.key);
  }
  fs::path dir = fs::path(cfg_.models_dir) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw not_found(fmt::format("no model folder '{}' in the repository", name));

  std::lock_guard serial(load_mu_);
  std::shared_ptr<Model> old = find(name);
  {
    std::lock_guard lk(mu_);
    if (!old) {
      ModelInfo placeholder;
      placeholder.name = name;
      placeholder.state = "loading";
      placeholder.path = dir.string();
      transient_[name] = placeholder;
    }
  }
  std::shared_ptr<Model> m;
  try {
    ModelSpec spec = make_spec(dir, name, overrides, cfg_.precision);
    // A batch gathers requests that sit on worker threads at the same time.
    if (spec.max_batch == 0) spec.max_batch = cfg_.max_batch;
    spec.max_batch = std::min(spec.max_batch, workers_n_);
    spec.batch_delay_us = cfg_.batch_delay_us;
    spdlog::info("inference: loading {} ({} via {}, {})", name, spec.format, spec.engine, spec.model_path);
    m = Model::load(spec, plan_);
    if (m->available()) warm_workers(*m);
  } catch (const SpecError& e) {
    if (overrides.is_object() && overrides.contains(e.key)) {
      std::lock_guard lk(mu_);
      transient_.erase(name);
      throw bad_request(e.what(), e.key);
    }
    ModelInfo info;
    info.name = name;
    info.path = dir.string();
    info.reason = e.what();
    spdlog::warn("inference: {} unavailable: {}", name, info.reason);
    m = Model::failed(info);
  } catch (const std::exception& e) {
    ModelInfo info;
    info.name = name;
    info.path = dir.string();
    info.reason = e.what();
    spdlog::warn("inference: {} unavailable: {}", name, info.reason);
    m = Model::failed(info);
  }
  bool replaced = false;
  {
    std::lock_guard lk(mu_);
    transient_.erase(name);
    // A failed reload keeps the old instance serving.
    if (!(old && old->available() && !m->available())) {
      models_[name] = m;
      replaced = old != nullptr;
    }
  }
  if (replaced) spdlog::info("inference: {} reloaded; the old instance drains in the background", name);
  return m->info();
}

void ModelRegistry::warm_workers(Model& m) {
  // Model::load warmed its engine instances. What is left is what each
  // worker thread sets up on its first request: OpenCV's buffers for the
  // preprocessing, and for libtorch the thread's OpenMP team and oneDNN's
  // state for it. Once per engine and registry: every worker runs a forward
  // beside the others, then one alone (the two team sizes a forward takes),
  // so that no client's first request pays for it.
  const std::string engine = m.info().engine;
  if (!warmed_engines_.insert(engine).second) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::latch together(workers_n_), alone(workers_n_);
  std::mutex one_at_a_time;
  std::vector<std::future<void>> done;
  for (int i = 0; i < workers_n_; ++i) {
    done.push_back(run_on(*workers_, [&] {
      together.arrive_and_wait();  // one task on every worker thread
      m.warm_up();
      alone.arrive_and_wait();
      std::lock_guard lk(one_at_a_time);
      m.warm_up();
    }));
  }
  for (auto& f : done) f.get();
  spdlog::info("inference: {} worker threads warmed up for {} with {} in {:.0f} ms", workers_n_, engine,
               m.info().name, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

bool ModelRegistry::unload(std::string_view name) {
  std::lock_guard serial(load_mu_);
  std::shared_ptr<Model> m;
  {
    std::lock_guard lk(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return false;
    m = it->second;
    models_.erase(it);
    m->set_state("unloading");
    transient_[std::string(name)] = m->info();
  }
  spdlog::info("inference: unloading {}; waiting for its in-flight requests", name);
  m->wait_idle();
  {
    std::lock_guard lk(mu_);
    transient_.erase(std::string(name));
  }
  spdlog::info("inference: {} unloaded", name);
  return true;
}

boost::asio::awaitable<DetectResult> ModelRegistry::detect(std::string name, cv::Mat bgr, DetectOptions opts) {
  validate_options(opts);
  auto ticket = admit(name)->admit(cfg_.max_queue);
  // Named locals, not temporaries, inside co_await: g++ 12 destroys a
  // temporary closure in a co_await full-expression twice.
  auto work = [ticket, bgr = std::move(bgr), opts = std::move(opts)]() -> boost::asio::awaitable<DetectResult> {
    co_return ticket->model().detect(*ticket, bgr, opts);
  };
  auto hop = boost::asio::co_spawn(workers_->get_executor(), std::move(work), boost::asio::use_awaitable);
  DetectResult r = co_await std::move(hop);
  co_return r;
}

DetectResult ModelRegistry::detect_sync(const std::string& name, const cv::Mat& bgr, const DetectOptions& opts) {
  validate_options(opts);
  auto ticket = admit(name)->admit(cfg_.max_queue);
  return run_on(*workers_, [ticket, bgr, opts] { return ticket->model().detect(*ticket, bgr, opts); }).get();
}

boost::asio::awaitable<ModelRegistry::Tensor> ModelRegistry::infer_raw(std::string name, Tensor input) {
  auto ticket = admit(name)->admit(cfg_.max_queue);
  auto work = [ticket, input = std::move(input)]() -> boost::asio::awaitable<Tensor> {
    co_return ticket->model().infer_raw(*ticket, input);
  };
  auto hop = boost::asio::co_spawn(workers_->get_executor(), std::move(work), boost::asio::use_awaitable);
  Tensor r = co_await std::move(hop);
  co_return r;
}

ModelRegistry::Tensor ModelRegistry::infer_raw_sync(const std::string& name, Tensor input) {
  auto ticket = admit(name)->admit(cfg_.max_queue);
  return run_on(*workers_, [ticket, input = std::move(input)] { return ticket->model().infer_raw(*ticket, input); })
      .get();
}

std::string ModelRegistry::default_model() const {
  if (!cfg_.default_model.empty()) return cfg_.default_model;
  std::lock_guard lk(mu_);
  for (const char* pref : {"yolov8n-ts", "yolov8n"}) {
    auto it = models_.find(pref);
    if (it != models_.end() && it->second->available()) return pref;
  }
  for (auto& [name, m] : models_) {
    if (m->available()) return name;
  }
  return "";
}

}  // namespace osprey::inference
