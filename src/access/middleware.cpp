#include "access/middleware.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <unordered_map>

#include "access/key_format.hpp"
#include "common/error.hpp"
#include "common/strings.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"
#include "metrics/registry.hpp"
#include "usage/ledger.hpp"

namespace osprey::access {

using http::Awaitable;
using http::Context;
using http::Next;
using http::Response;

namespace {

bool is_deepstack_route(const Context& ctx) { return ctx.path.substr(0, 11) == "/v1/vision/"; }

void set_header(http::HeaderList& headers, const std::string& k,
                const std::string& v) {
  for (auto& [name, value] : headers) {
    if (str::iequals(name, k)) {
      value = v;
      return;
    }
  }
  headers.emplace_back(k, v);
}

ApiError unauthorized(std::string msg, std::string code = "invalid_api_key") {
  ApiError e(401, std::move(msg), "invalid_request_error", std::move(code));
  e.headers.emplace_back("WWW-Authenticate", "Bearer");
  return e;
}

std::string unique_request_token(const Context& ctx) {
  // Redis keeps in-flight requests in a set, so the token must be unique
  // across replicas even when the client reuses X-Request-Id.
  static std::atomic<std::uint64_t> seq{0};
  static const std::string process = generate_key_id().substr(4);
  return ctx.request_id + "#" + process + "." + std::to_string(seq.fetch_add(1));
}

}  // namespace

std::string presented_key(const Context& ctx) {
  const auto& req = ctx.request;
  if (auto auth = req[http::Field::authorization]; !auth.empty()) {
    auto v = str::trim(auth);
    if (v.size() > 7 && str::iequals(v.substr(0, 7), "bearer ")) return std::string(str::trim(v.substr(7)));
  }
  if (auto k = req["X-API-Key"]; !k.empty()) return std::string(str::trim(k));
  if (ctx.route && ctx.route->websocket) {
    // Browsers cannot set headers on a WebSocket; they can offer
    // subprotocols: `new WebSocket(url, ["osprey.v1", "osprey.key." + key])`.
    auto protocols = req[http::Field::sec_websocket_protocol];
    for (auto p : str::split(protocols, ',')) {
      p = str::trim(p);
      if (p.size() > 11 && p.substr(0, 11) == "osprey.key.") return std::string(p.substr(11));
    }
  }
  if (is_deepstack_route(ctx)) {
    auto ct = req[http::Field::content_type];
    if (http::is_multipart_form(ct)) {
      try {
        auto form = http::parse_multipart(ct, req.body());
        if (auto v = form.value("api_key")) return std::string(str::trim(*v));
      } catch (const ApiError&) {
        // A malformed form carries no usable key; the handler reports the
        // form error to authenticated callers.
      }
    }
  }
  return {};
}

std::string requested_model(const Context& ctx) {
  if (auto m = ctx.param("model"); !m.empty()) return std::string(m);
  if (ctx.route && ctx.route->path.find("/models/{name}") != std::string::npos) {
    if (auto m = ctx.param("name"); !m.empty()) return std::string(m);
  }
  if (auto m = ctx.query.get("model")) return *m;
  const auto& req = ctx.request;
  auto ct = req[http::Field::content_type];
  if (req.body().empty()) return {};
  if (http::is_multipart_form(ct)) {
    try {
      auto form = http::parse_multipart(ct, req.body());
      if (auto v = form.value("model")) return *v;
    } catch (const ApiError&) {
    }
    return {};
  }
  auto base = str::lower(str::trim(ct.substr(0, ct.find(';'))));
  if (base == "application/json" || base.empty()) {
    auto j = nlohmann::json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("model") && j["model"].is_string()) return j["model"].get<std::string>();
  }
  return {};
}

namespace {

// The per-request metric series, looked up once per (route, method, status)
// and I/O thread: the registry's lookup takes a lock and formats labels,
// which would dominate the cost of a cheap request. Unmatched requests share
// route == nullptr.
struct HttpSeries {
  metrics::Counter* requests;
  metrics::Histogram* duration;
};

const std::string& route_name(const http::Route* route) {
  static const std::string kUnmatched = "(unmatched)";
  return route ? route->path : kUnmatched;
}

HttpSeries& http_series(const http::Route* route, http::Verb method, int status) {
  struct Key {
    const http::Route* route;
    http::Verb method;
    int status;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    std::size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.route) ^ (static_cast<std::size_t>(k.method) * 31) ^
             (static_cast<std::size_t>(k.status) * 1000003);
    }
  };
  thread_local std::unordered_map<Key, HttpSeries, Hash> cache;
  Key key{route, method, status};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto& reg = metrics::Registry::global();
  const auto& name = route_name(route);
  HttpSeries s{&reg.counter("osprey_http_requests_total", "HTTP requests by route template, method and status",
                            {{"route", name},
                             {"method", std::string(http::beast_http::to_string(method))},
                             {"status", std::to_string(status)}}),
               &reg.histogram("osprey_http_request_duration_seconds", "HTTP request latency by route template",
                              {{"route", name}})};
  return cache.emplace(key, s).first->second;
}

// Routes whose requests are usage: everything but public routes (health
// probes, docs, metrics scrapes), which are counted in metrics but not
// written to the ledger, so a probe every second neither grows the database
// nor waits for a commit. Unmatched requests (404/405) are recorded.
bool recorded_route(const http::Route* route) { return !route || !route->scope.empty(); }

// The ledger's record of a finished request. (The ledger middleware's
// helpers are plain functions: a coroutine keeps every local and temporary
// in its frame for the whole request, minutes for a stream.)
usage::Record usage_record(const Context& ctx, int status) {
  usage::Record rec;
  rec.ts_ms = usage::now_ms();
  rec.request_id = ctx.request_id;
  rec.key_id = ctx.principal ? ctx.principal->key_id : std::string();
  rec.route = route_name(ctx.route);
  rec.method = std::string(http::beast_http::to_string(ctx.request.method()));
  rec.model = ctx.usage.model;
  rec.status = status;
  // From when the server built the context (one clock read saved).
  rec.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ctx.started_at).count();
  rec.images = ctx.usage.images;
  rec.prompt_tokens = ctx.usage.prompt_tokens;
  rec.completion_tokens = ctx.usage.completion_tokens;
  rec.cost_usd = ctx.usage.cost_usd;
  rec.upstream = ctx.usage.upstream;
  return rec;
}

Response ledger_unavailable(const Context& ctx) {
  return http::error_response(
      ctx, ApiError(503, "the usage ledger could not record this request, so its result is withheld; retry later",
                    "server_error", "ledger_unavailable"));
}

}  // namespace

http::Hook metrics_hook() {
  http::Hook h;
  h.after = [](Context& ctx, Response& res) {
    // Latency from when the server built the context (one clock read saved).
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started_at).count();
    auto& series = http_series(ctx.route, ctx.request.method(), static_cast<int>(res.result_int()));
    series.requests->inc();
    series.duration->observe(secs);
  };
  return h;
}

http::Middleware ledger_middleware(AccessService& access, usage::Ledger& ledger) {
  return [&access, &ledger](Context& ctx, const Next& next) -> Awaitable<Response> {
    std::optional<Response> res;
    std::exception_ptr ep;
    int status = 500;
    try {
      res = co_await next(ctx);
      status = static_cast<int>(res->result_int());
    } catch (const ApiError& e) {
      ep = std::current_exception();
      status = e.status();
    } catch (...) {
      ep = std::current_exception();
    }
    if (ctx.usage.cost_usd == 0) ctx.usage.cost_usd = access.cost_usd(ctx.usage);

    bool committed = true;
    try {
      auto commit = ledger.record(usage_record(ctx, status));  // named: see usage/completion.hpp
      co_await std::move(commit);
    } catch (const std::exception& e) {
      committed = false;
      spdlog::error("request {}: usage ledger commit failed: {}", ctx.request_id, e.what());
    }
    if (!committed && !(ctx.stream && ctx.stream->started())) co_return ledger_unavailable(ctx);
    if (ep) std::rethrow_exception(ep);
    co_return std::move(*res);
  };
}

namespace {

// The part of auth that needs a coroutine (it awaits the rest of the chain).
Awaitable<Response> authenticate_then(AccessService& access, Context& ctx, const Next& next) {
  auto token = presented_key(ctx);
  // A key created or revoked by another process counts from the very next
  // request (access_service.hpp).
  if (access.keys_changed()) {
    auto refresh = access.refresh_keys();
    co_await std::move(refresh);
  }
  auto a = access.authenticate(token);
  switch (a.result) {
    case AccessService::AuthResult::missing:
      co_return http::error_response(
          ctx, unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or "
                            "'X-API-Key: <key>'."));
    case AccessService::AuthResult::unknown:
      co_return http::error_response(ctx, unauthorized("Incorrect API key provided."));
    case AccessService::AuthResult::revoked:
      co_return http::error_response(ctx, unauthorized("This API key has been revoked."));
    case AccessService::AuthResult::expired:
      // Its own code, so a client can tell "renew the key" from "wrong key".
      co_return http::error_response(
          ctx, unauthorized("This API key expired at " + utc_time(a.key->expires_at) + ".", "key_expired"));
    case AccessService::AuthResult::ok: break;
  }
  const KeyRecord& key = *a.key;
  access.remember_secret(key.id, token);

  // The principal is set before the scope and model checks so that the
  // ledger attributes a 403 to the key that was refused.
  http::Principal p;
  p.key_id = key.id;
  p.key_name = key.name;
  p.scopes = key.scopes;
  if (key.scopes.count("admin"))
    for (const auto& s : known_scopes()) p.scopes.insert(s);
  p.allowed_models = key.models;
  ctx.principal = p;

  const auto& scope = ctx.route->scope;
  if (scope != kAnyKeyScope && !key.has_scope(scope)) {
    co_return http::error_response(
        ctx, ApiError(403, "This API key does not have the '" + scope + "' scope needed for " +
                               std::string(ctx.path) + ".",
                      "permission_error", "insufficient_scope"));
  }
  if (const auto& also = ctx.route->also_scope; !also.empty() && !key.has_scope(also)) {
    co_return http::error_response(
        ctx, ApiError(403, "This API key does not have the '" + also + "' scope also needed for " +
                               std::string(ctx.path) + ".",
                      "permission_error", "insufficient_scope"));
  }
  if (!p.allowed_models.empty()) {
    auto model = requested_model(ctx);
    if (!model.empty() && !p.may_use_model(model)) {
      co_return http::error_response(
          ctx, ApiError(403, "This API key may not use model '" + model + "'.", "permission_error",
                        "model_not_allowed", "model"));
    }
  }
  co_return co_await next(ctx);
}

}  // namespace

http::Middleware auth_middleware(AccessService& access) {
  // Not a coroutine itself: a request that needs no key goes straight on,
  // without a frame of its own (an open stream keeps every frame of its
  // chain alive for as long as it runs).
  return [&access](Context& ctx, const Next& next) -> Awaitable<Response> {
    if (!ctx.route || ctx.route->scope.empty() || !access.auth_required()) return next(ctx);
    return authenticate_then(access, ctx, next);
  };
}

namespace {

// Frees the concurrency slot if the request's coroutine is destroyed
// between admit and settle.
struct SlotGuard {
  Limiter& limiter;
  const std::string& key_id;
  const std::string& token;
  bool settled = false;
  ~SlotGuard() {
    if (!settled) limiter.abandon(key_id, token);
  }
};

std::string denial_message(LimitKind k, const Limits& l, const std::string& key_id, std::int64_t retry) {
  std::string what;
  switch (k) {
    case LimitKind::requests: what = "requests per minute (limit " + std::to_string(l.rpm) + ")"; break;
    case LimitKind::tokens: what = "tokens per minute (limit " + std::to_string(l.tpm) + ")"; break;
    case LimitKind::images: what = "images per minute (limit " + std::to_string(l.ipm) + ")"; break;
    case LimitKind::concurrency:
      what = "concurrent requests (limit " + std::to_string(l.concurrency) + ")";
      break;
    case LimitKind::tokens_per_day:
      what = "tokens per day (budget " + std::to_string(l.tokens_per_day) + ")";
      break;
    case LimitKind::usd_per_month: what = fmt::format("USD per month (budget ${:.2f})", l.usd_per_month); break;
    case LimitKind::none: what = "limits"; break;
  }
  return "Rate limit reached for " + what + " on key " + key_id + ". Retry after " + std::to_string(retry) + " s.";
}

}  // namespace

namespace {

// The part of the limits layer that needs a coroutine.
// `key` is the caller's key, known to have limits.
Awaitable<Response> limit_then(AccessService& access, Context& ctx, const Next& next,
                               std::shared_ptr<const KeyRecord> key) {
  const Limits limits = key->limits;
  const std::string key_id = key->id;
  Checks checks;
  if (ctx.route) {
    checks.tokens = ctx.route->scope == "chat";
    // Images are counted where they come in: uploads (POST) and the
    // WebSocket; reading or stopping a stream, or listing models, is not
    // refused because the minute's images are spent.
    checks.images = ctx.route->counts_images || (ctx.route->scope == "detect" &&
                                                 (ctx.route->method == http::Verb::post || ctx.route->websocket));
  }
  const std::string token = unique_request_token(ctx);
  auto& limiter = access.limiter();

  Admission adm;
  std::string failure;
  try {
    adm = co_await limiter.admit(key_id, limits, token, checks, access.now_ms());
  } catch (const LimiterUnavailable& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    access.note_limiter_failure(failure);
    if (access.fail_open()) co_return co_await next(ctx);
    ApiError err(503, "Rate limiting is temporarily unavailable (the shared limit store cannot be reached); retry shortly.",
                 "server_error", "limiter_unavailable");
    err.headers.emplace_back("Retry-After", "1");
    co_return http::error_response(ctx, err);
  }
  for (auto& [k, v] : rate_limit_headers(limits, adm.counters)) set_header(ctx.response_headers, k, v);

  if (!adm.allowed) {
    auto retry = retry_after_seconds(adm.denied_by, adm.counters.now_ms);
    metrics::Registry::global()
        .counter("osprey_rate_limited_total", "Requests refused with 429, by key and limit",
                 {{"key", key_id}, {"kind", std::string(to_string(adm.denied_by))}})
        .inc();
    bool budget = adm.denied_by == LimitKind::tokens_per_day || adm.denied_by == LimitKind::usd_per_month;
    ApiError err(429, denial_message(adm.denied_by, limits, key_id, retry),
                 budget ? "insufficient_quota" : "rate_limit_error",
                 budget ? "insufficient_quota" : "rate_limit_exceeded");
    err.headers.emplace_back("Retry-After", std::to_string(retry));
    co_return http::error_response(ctx, err);
  }

  SlotGuard guard{limiter, key_id, token};
  std::optional<Response> res;
  std::exception_ptr ep;
  try {
    res = co_await next(ctx);
  } catch (...) {
    ep = std::current_exception();
  }
  if (ctx.usage.cost_usd == 0) ctx.usage.cost_usd = access.cost_usd(ctx.usage);
  Consumption used{ctx.usage.prompt_tokens + ctx.usage.completion_tokens, ctx.usage.images, ctx.usage.cost_usd};
  try {
    auto c = co_await limiter.settle(key_id, limits, token, used, access.now_ms());
    guard.settled = true;
    for (auto& [k, v] : rate_limit_headers(limits, c)) {
      set_header(ctx.response_headers, k, v);
      if (res) res->set(k, v);
    }
  } catch (const LimiterUnavailable& e) {
    guard.settled = true;  // the lease expires on its own in Redis
    access.note_limiter_failure(std::string("settle: ") + e.what());
  }
  if (ep) std::rethrow_exception(ep);
  co_return std::move(*res);
}

}  // namespace

http::Middleware limits_middleware(AccessService& access) {
  // Not a coroutine itself, like auth_middleware: a key without limits
  // (or no key) costs no frame.
  return [&access](Context& ctx, const Next& next) -> Awaitable<Response> {
    if (!ctx.principal || ctx.principal->key_id.empty()) return next(ctx);
    auto key = access.find_by_id(ctx.principal->key_id);
    if (!key || !key->limits.any()) return next(ctx);
    return limit_then(access, ctx, next, std::move(key));
  };
}

bool scoped_route(const http::Route* route) { return route && !route->scope.empty(); }

void install_access_middleware(http::Router& router, AccessService& access, usage::Ledger& ledger) {
  router.hook(metrics_hook());
  router.use(ledger_middleware(access, ledger), recorded_route);
  router.use(auth_middleware(access), scoped_route);
  router.use(limits_middleware(access), scoped_route);
}

}  // namespace osprey::access
