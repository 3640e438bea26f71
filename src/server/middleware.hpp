#pragma once
// The server's own middleware, outermost in the chain:
//
//   router.use(server::core_middleware(cfg.server));
//
// It (1) echoes the request id as `x-request-id` on every response and
// copies ctx.response_headers onto it, (2) answers CORS preflights and adds
// CORS headers when cors_origins is set, and (3) writes one access log line
// per request: remote, method, target, status, body bytes, latency, request
// id and key id. Later issues' middleware (auth, limits, ledger) goes inside.

#include "config/config.hpp"
#include "http/router.hpp"

namespace osprey::server {

http::Middleware core_middleware(const config::ServerConfig& cfg);

}  // namespace osprey::server
