#pragma once
// GET /metrics: Prometheus text exposition of metrics::Registry::global().
//
//   api::add_metrics_route(router, cfg.server);
//
// Public when server.metrics_public (the default), otherwise it needs an
// admin key. Series owned by the access/usage area:
//   osprey_http_requests_total{route,method,status}      counter
//   osprey_http_request_duration_seconds{route}          histogram
//   osprey_rate_limited_total{key,kind}                  counter
//   osprey_ledger_records_total                          counter
//   osprey_ledger_commit_seconds                         histogram
//   osprey_ledger_commit_failures_total                  counter
//   osprey_open_connections                              gauge (updated by the server)

#include "config/config.hpp"
#include "http/router.hpp"

namespace osprey::api {

void add_metrics_route(http::Router& router, const config::ServerConfig& cfg);

}  // namespace osprey::api
