#pragma once
// The access middleware: usage ledger, authentication, rate limits.
//
//   access::install_access_middleware(router, access, ledger);
//
// Install after the server's core hook (request id, CORS, access log)
// and before anything else. A hook, then three layers, outermost first:
//
//  0. metrics (a hook, every request) Counts osprey_http_requests_total
//             {route,method,status} and osprey_http_request_duration_seconds
//             {route} on the final response.
//  1. ledger  Records every request but those to public routes (so also
//             401/403/429 and unmatched 404/405) in the usage ledger and
//             co_awaits the commit before the response goes out; if the
//             commit fails the client gets 503 instead of an answer that
//             was not recorded. Computes ctx.usage.cost_usd from the price
//             table.
//  2. auth    For routes whose Route::scope is non-empty (and when
//             access.auth_required): reads the key from
//             `Authorization: Bearer`, `X-API-Key`, or on DeepStack routes
//             (/v1/vision/...) the multipart form field `api_key`, on
//             WebSocket routes a subprotocol `osprey.key.<KEY>` (browsers
//             cannot set headers there).
//             No/unknown/revoked key -> 401 invalid_api_key; an expired
//             one (expires_at passed, a rotated key after its grace) -> 401
//             key_expired; key without the route's scope (or its
//             also_scope), or naming a model it may not use (path
//             {model}/{name}, query `model`, JSON or form field `model`)
//             -> 403. Sets ctx.principal. Scope "key" (kAnyKeyScope) admits
//             any valid key (GET /v1/usage). Admin implies every scope.
//  3. limits  For authenticated keys with limits: admit (429 + Retry-After
//             when over), x-ratelimit-* headers on every response, then
//             settle tokens/images/cost from ctx.usage after the handler.
//             When the shared limiter (Redis) is unreachable: 503
//             limiter_unavailable, or no limits if access.redis_fail_open.
//
// Handlers must fill ctx.usage (model, images, prompt/completion tokens,
// upstream_called). A handler that picks a default model itself should check
// ctx.principal->may_use_model() (the middleware only sees models the request
// names). Streaming handlers should send ctx.response_headers in their
// begin() head.

#include <string_view>
#include <vector>

#include "access/access_service.hpp"
#include "http/router.hpp"

namespace osprey::usage {
class Ledger;
}

namespace osprey::access {

inline constexpr std::string_view kAnyKeyScope = "key";

// Adds the three layers to `router` (auth and limits only around routes
// with a scope: public routes skip them).
void install_access_middleware(http::Router& router, AccessService& access, usage::Ledger& ledger);
// Whether a route needs a key (auth and limits wrap only these).
bool scoped_route(const http::Route* route);

http::Hook metrics_hook();
http::Middleware ledger_middleware(AccessService& access, usage::Ledger& ledger);
http::Middleware auth_middleware(AccessService& access);
http::Middleware limits_middleware(AccessService& access);

// Exposed for tests: the key a request presents ("" when none), and the
// model it names ("" when none).
std::string presented_key(const http::Context& ctx);
std::string requested_model(const http::Context& ctx);

}  // namespace osprey::access
