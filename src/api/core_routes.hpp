#pragma once
// Core routes every Osprey serves, public (no key):
//   GET /v2/health/live   200 while the process runs (KServe liveness)
//   GET /v2/health/ready  200 once startup finished, 503 before (and while draining)
//   GET /healthz          alias of ready
//   GET /v2               KServe server metadata
//   GET /openapi.json     OpenAPI 3.1 document generated from the route table
//   GET /docs             interactive API docs (swagger-ui, served from the binary)
//
//   api::ServerState state;
//   api::add_core_routes(router, state);   // add last: /openapi.json reads the table
//   ... startup ...
//   state.ready = true;

#include <atomic>
#include <string>

#include "http/router.hpp"

namespace osprey::api {

struct ServerState {
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::string version = "0.1.0";
};

void add_core_routes(http::Router& router, ServerState& state);

}  // namespace osprey::api
