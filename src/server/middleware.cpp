#include "server/middleware.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "http/response.hpp"

namespace osprey::server {
namespace {

bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin) {
  for (const auto& a : allowed)
    if (a == "*" || a == origin) return true;
  return false;
}

}  // namespace

http::Middleware core_middleware(const config::ServerConfig& cfg) {
  auto cors = cfg.cors_origins;
  bool access_log = cfg.access_log;
  return [cors, access_log](http::Context& ctx, const http::Next& next) -> http::Awaitable<http::Response> {
    auto& req = ctx.request;
    ctx.response_headers.emplace_back("x-request-id", ctx.request_id);
    std::string_view origin = req[http::Field::origin];
    bool cors_ok = !cors.empty() && !origin.empty() && origin_allowed(cors, origin);
    if (cors_ok) {
      bool any = std::find(cors.begin(), cors.end(), "*") != cors.end();
      ctx.response_headers.emplace_back("Access-Control-Allow-Origin", any ? "*" : std::string(origin));
      if (!any) ctx.response_headers.emplace_back("Vary", "Origin");
      ctx.response_headers.emplace_back("Access-Control-Expose-Headers",
                                        "x-request-id, retry-after, x-ratelimit-limit-requests, "
                                        "x-ratelimit-remaining-requests, x-ratelimit-reset-requests");
    }

    http::Response res;
    if (cors_ok && req.method() == http::Verb::options && !req["Access-Control-Request-Method"].empty()) {
      // Preflight: answered here, before auth, as browsers send no credentials.
      res = http::make_response(ctx, 204, "", "text/plain");
      res.set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
      auto hdrs = req["Access-Control-Request-Headers"];
      res.set("Access-Control-Allow-Headers",
              hdrs.empty() ? std::string("authorization, content-type, x-api-key, x-request-id") : std::string(hdrs));
      res.set("Access-Control-Max-Age", "600");
    } else {
      res = co_await next(ctx);
    }
    for (const auto& [k, v] : ctx.response_headers)
      if (res.find(k) == res.end()) res.set(k, v);

    if (access_log && spdlog::should_log(spdlog::level::info)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - ctx.started_at)
                    .count();
      spdlog::info("{} \"{} {}\" {} {} {:.3f}ms rid={} key={}", ctx.remote_address, std::string(req.method_string()),
                   std::string(req.target()), res.result_int(), res.body().size(), static_cast<double>(us) / 1000.0,
                   ctx.request_id, ctx.principal ? ctx.principal->key_id : "-");
    }
    co_return res;
  };
}

}  // namespace osprey::server
