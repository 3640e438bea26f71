#pragma once
// Services: every long-lived object of a running server (model registry,
// gateway, key store, ledger, ...) and the one place that wires them into a
// Router. The order of middleware is decided here:
//
//   core (request id, CORS, access log)  ->  ledger  ->  auth  ->  limits  ->  handler
//
// build_router() may be called again at any time (reload): it returns a new
// Router over the same services, configured from `cfg`.

#include <memory>

#include "api/core_routes.hpp"
#include "config/config.hpp"
#include "http/router.hpp"

namespace osprey::cli {

class Services {
 public:
  explicit Services(const config::Config& cfg);
  ~Services();

  void start(const config::Config& cfg);        // slow startup work (models, stores)
  void reconfigure(const config::Config& cfg);  // reload: new keys, prices, ...
  void sync_models();                           // reload: model repository changed
  // Shutdown began: long-lived responses that would otherwise hold the
  // drain to its grace period (a stream's SSE and MJPEG viewers) end now.
  void begin_drain();
  void stop();

  std::shared_ptr<const http::Router> build_router(const config::Config& cfg, api::ServerState& state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace osprey::cli
