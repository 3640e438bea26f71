#include "cli/services.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "access/access_service.hpp"
#include "access/middleware.hpp"
#include "api/admin_routes.hpp"
#include "api/chat_routes.hpp"
#include "api/describe_route.hpp"
#include "cli/upstream_setup.hpp"
#include "api/detection_routes.hpp"
#include "api/metrics_routes.hpp"
#include "api/usage_routes.hpp"
#include "api/video_routes.hpp"
#include "common/log.hpp"
#include "gateway/gateway.hpp"
#include "inference/model_registry.hpp"
#include "vision/codecs.hpp"
#include "secrets/resolver.hpp"
#include "server/middleware.hpp"
#include "usage/ledger.hpp"
#include "video/stream_service.hpp"

namespace osprey::cli {

namespace fs = std::filesystem;

struct Services::Impl {
  config::Config cfg;
  std::unique_ptr<usage::Ledger> ledger;
  std::unique_ptr<access::AccessService> access;
  std::unique_ptr<inference::ModelRegistry> registry;
  // Streams use the registry, the limiter and the ledger: stopped first.
  std::unique_ptr<video::StreamService> streams;
  // The upstreams are replaced on reload (new keys, new upstreams); routes
  // hold the shared_ptr they were built with, so requests in flight finish
  // on it.
  std::mutex gateway_mu;
  std::shared_ptr<gateway::Upstreams> upstreams;
  // Model folder -> newest mtime of its files, for --reload.
  std::map<std::string, fs::file_time_type> model_stamps;

  std::map<std::string, fs::file_time_type> scan_stamps() const {
    std::map<std::string, fs::file_time_type> out;
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(cfg.inference.models_dir, ec)) {
      if (!dir.is_directory(ec)) continue;
      fs::file_time_type newest{};
      for (const auto& f : fs::directory_iterator(dir.path(), ec)) newest = std::max(newest, f.last_write_time(ec));
      out[dir.path().filename().string()] = newest;
    }
    return out;
  }
};

Services::Services(const config::Config& cfg_in) : impl_(std::make_unique<Impl>()) {
  // Secrets other than the upstream keys may also be enc: values or come
  // from .env / *_FILE: resolve them once, here.
  config::Config cfg = cfg_in;
  auto resolver = secrets::SecretResolver::from_environment(cfg.env_file);
  if (!cfg.master_key.empty()) resolver.set_master_key(cfg.master_key);
  if (!cfg.access.pepper.empty()) cfg.access.pepper = resolver.reveal(cfg.access.pepper, "access.pepper");
  else if (auto p = resolver.resolve("OSPREY_KEY_PEPPER")) cfg.access.pepper = *p;
  if (!cfg.access.bootstrap_admin_key.empty())
    cfg.access.bootstrap_admin_key = resolver.reveal(cfg.access.bootstrap_admin_key, "OSPREY_ADMIN_KEY");
  else if (auto a = resolver.resolve("OSPREY_ADMIN_KEY")) cfg.access.bootstrap_admin_key = *a;
  impl_->cfg = cfg;
  usage::Ledger::Options ledger_opts;
  ledger_opts.synchronous_full = cfg.ledger_sync == "full";
  impl_->ledger = std::make_unique<usage::Ledger>(cfg.data_dir, ledger_opts);
  impl_->access = std::make_unique<access::AccessService>(cfg, impl_->ledger.get());
  impl_->registry = std::make_unique<inference::ModelRegistry>(cfg.inference);
  impl_->upstreams = make_upstreams(cfg);
  impl_->streams = std::make_unique<video::StreamService>(
      cfg.video, video::StreamDeps{impl_->registry.get(), &impl_->access->limiter(), impl_->ledger.get(),
                                   [access = impl_->access.get()](const std::string& key_id) {
                                     auto rec = access->find_by_id(key_id);
                                     return rec && !rec->revoked();
                                   }});
}

Services::~Services() = default;

void Services::start(const config::Config& cfg) {
  std::error_code ec;
  if (!fs::is_directory(cfg.inference.models_dir, ec)) {
    spdlog::warn("model repository {} does not exist: no detection models. Create it with one folder per model "
                 "(Darknet .cfg+.weights, .onnx or .torchscript, plus coco.names)",
                 cfg.inference.models_dir);
    return;
  }
  impl_->registry->scan();
  impl_->model_stamps = impl_->scan_stamps();
  int available = 0;
  for (const auto& m : impl_->registry->list()) {
    if (m.state == "available") {
      ++available;
      spdlog::info("model {}: {} {} on {} ({}x{}, {} classes, loaded in {:.0f} ms)", m.name, m.family, m.format,
                   m.engine, m.input_width, m.input_height, m.classes.size(), m.load_ms);
    } else {
      spdlog::warn("model {}: {} ({})", m.name, m.state, m.reason);
    }
  }
  if (available == 0)
    spdlog::warn("no detection model could be loaded from {}: add a folder per model (see README)",
                 cfg.inference.models_dir);
  else
    spdlog::info("{} model(s) available; default model: {}", available, impl_->registry->default_model());
  if (available > 0) {
    // Detection will take PNG/BMP uploads: load the codecs now rather than
    // on the first such request.
    try {
      vision::preload_codecs();
    } catch (const std::exception& e) {
      spdlog::warn("{}: PNG and BMP images will be refused", e.what());
    }
  }
}

void Services::reconfigure(const config::Config& cfg) {
  auto ups = make_upstreams(cfg);
  {
    std::lock_guard lock(impl_->gateway_mu);
    impl_->upstreams = std::move(ups);
  }
  impl_->cfg = cfg;
}

void Services::sync_models() {
  auto now = impl_->scan_stamps();
  auto& before = impl_->model_stamps;
  for (const auto& [name, stamp] : now) {
    auto it = before.find(name);
    if (it != before.end() && it->second == stamp) continue;
    spdlog::info("reload: model folder {} {}, loading", name, it == before.end() ? "added" : "changed");
    try {
      auto info = impl_->registry->load(name, nlohmann::json::object());
      if (info.state == "available")
        spdlog::info("reload: model {} available", name);
      else
        spdlog::warn("reload: model {} {}: {}", name, info.state, info.reason);
    } catch (const std::exception& e) {
      spdlog::error("reload: model {} failed to load, previous version keeps serving: {}", name, e.what());
    }
  }
  for (const auto& [name, _] : before) {
    if (now.count(name)) continue;
    spdlog::info("reload: model folder {} removed, unloading after in-flight requests", name);
    impl_->registry->unload(name);
  }
  before = std::move(now);
}

void Services::begin_drain() {
  if (impl_->streams) impl_->streams->close_viewers();
}

void Services::stop() {
  impl_->streams.reset();  // joins the streams' threads, writes their last usage records
  {
    std::lock_guard lock(impl_->gateway_mu);
    if (impl_->upstreams) impl_->upstreams->drop_idle_connections();
  }
  // The ledger flushes its queue in its destructor; nothing else holds
  // resources that outlive the process meaningfully.
  impl_->access.reset();
  impl_->ledger.reset();
}

std::shared_ptr<const http::Router> Services::build_router(const config::Config& cfg, api::ServerState& state) {
  auto router = std::make_shared<http::Router>();
  router->hook(server::core_hook(cfg.server));
  access::install_access_middleware(*router, *impl_->access, *impl_->ledger);

  std::shared_ptr<gateway::Upstreams> gw;
  {
    std::lock_guard lock(impl_->gateway_mu);
    gw = impl_->upstreams;
  }
  // Routes keep references: the router owns a share of the gateway, and the
  // config copy lives as long as the router.
  auto cfg_copy = std::make_shared<config::Config>(cfg);
  api::add_detection_routes(*router, *impl_->registry, *cfg_copy);
  api::add_chat_routes(*router, gw);
  api::add_describe_route(*router, gw, *impl_->registry, *cfg_copy);
  api::add_video_routes(*router, *impl_->streams, *impl_->registry, impl_->access.get(), impl_->ledger.get(),
                        *cfg_copy);
  api::add_admin_routes(*router, *impl_->access, *impl_->ledger);
  api::add_usage_routes(*router, *impl_->access, *impl_->ledger);
  api::add_metrics_route(*router, cfg.server);
  api::add_core_routes(*router, state);
  // Keep what the routes reference alive exactly as long as this router.
  return std::shared_ptr<const http::Router>(router.get(), [router, gw, cfg_copy](const http::Router*) mutable {
    router.reset();
    gw.reset();
    cfg_copy.reset();
  });
}

}  // namespace osprey::cli
