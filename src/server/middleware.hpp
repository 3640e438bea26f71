#pragma once
// The server's own hook, outside every middleware:
//
//   router.hook(server::core_hook(cfg.server));
//
// It (1) echoes the request id as `x-request-id` on every response and
// copies ctx.response_headers onto it, (2) answers CORS preflights and adds
// CORS headers when cors_origins is set, and (3) writes one access log line
// per request: remote, method, target, status, body bytes, latency, request
// id and key id. It is a hook, not a middleware, because none of this waits:
// a probe answered synchronously stays free of coroutine frames.

#include "config/config.hpp"
#include "http/router.hpp"

namespace osprey::server {

http::Hook core_hook(const config::ServerConfig& cfg);

}  // namespace osprey::server
