#include "cli/services.hpp"

#include <spdlog/spdlog.h>

#include "server/middleware.hpp"

namespace osprey::cli {

struct Services::Impl {
  config::Config cfg;
};

Services::Services(const config::Config& cfg) : impl_(std::make_unique<Impl>()) { impl_->cfg = cfg; }
Services::~Services() = default;

void Services::start(const config::Config& cfg) { (void)cfg; }

void Services::reconfigure(const config::Config& cfg) { impl_->cfg = cfg; }

void Services::sync_models() {}

void Services::stop() {}

std::shared_ptr<const http::Router> Services::build_router(const config::Config& cfg, api::ServerState& state) {
  auto router = std::make_shared<http::Router>();
  router->use(server::core_middleware(cfg.server));
  api::add_core_routes(*router, state);
  return router;
}

}  // namespace osprey::cli
