#include "api/metrics_routes.hpp"

#include "http/response.hpp"
#include "metrics/registry.hpp"

namespace osprey::api {

void add_metrics_route(http::Router& router, const config::ServerConfig& cfg) {
  // Register the gauge the server updates so that it renders (as 0) even
  // before the first connection.
  metrics::Registry::global().gauge("osprey_open_connections", "Client connections currently open");
  router.add({
      .method = http::Verb::get,
      .path = "/metrics",
      .handler = [](http::Context& ctx) -> http::Awaitable<http::Response> {
        co_return http::make_response(ctx, 200, metrics::Registry::global().render(),
                                      "text/plain; version=0.0.4; charset=utf-8");
      },
      .summary = "Prometheus metrics",
      .tag = "Operations",
      .description = cfg.metrics_public ? "Public (server.metrics_public = true)." : "Needs an admin key.",
      .responses = {{"200", "Text exposition format 0.0.4"}},
      .scope = cfg.metrics_public ? "" : "admin",
  });
}

}  // namespace osprey::api
