#include "server/middleware.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "http/response.hpp"

namespace osprey::server {
namespace {

bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin) {
  for (const auto& a : allowed)
    if (a == "*" || a == origin) return true;
  return false;
}

}  // namespace

http::Hook core_hook(const config::ServerConfig& cfg) {
  auto cors = std::make_shared<const std::vector<std::string>>(cfg.cors_origins);
  bool access_log = cfg.access_log;
  http::Hook h;
  h.before = [cors](http::Context& ctx) -> std::optional<http::Response> {
    auto& req = ctx.request;
    ctx.response_headers.emplace_back("x-request-id", ctx.request_id);
    if (cors->empty()) return std::nullopt;
    std::string_view origin = req[http::Field::origin];
    if (origin.empty() || !origin_allowed(*cors, origin)) return std::nullopt;
    bool any = std::find(cors->begin(), cors->end(), "*") != cors->end();
    ctx.response_headers.emplace_back("Access-Control-Allow-Origin", any ? "*" : std::string(origin));
    if (!any) ctx.response_headers.emplace_back("Vary", "Origin");
    ctx.response_headers.emplace_back("Access-Control-Expose-Headers",
                                      "x-request-id, retry-after, x-ratelimit-limit-requests, "
                                      "x-ratelimit-remaining-requests, x-ratelimit-reset-requests");
    if (req.method() != http::Verb::options || req["Access-Control-Request-Method"].empty()) return std::nullopt;
    // Preflight: answered here, before auth, as browsers send no credentials.
    auto res = http::make_response(ctx, 204, "", "text/plain");
    res.set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    auto hdrs = req["Access-Control-Request-Headers"];
    res.set("Access-Control-Allow-Headers",
            hdrs.empty() ? std::string("authorization, content-type, x-api-key, x-request-id") : std::string(hdrs));
    res.set("Access-Control-Max-Age", "600");
    return res;
  };
  h.after = [access_log](http::Context& ctx, http::Response& res) {
    http::add_context_headers(ctx, res);
    if (access_log && spdlog::should_log(spdlog::level::info)) {
      auto& req = ctx.request;
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - ctx.started_at)
                    .count();
      spdlog::info("{} \"{} {}\" {} {} {:.3f}ms rid={} key={}", ctx.remote_address, std::string(req.method_string()),
                   std::string(req.target()), res.result_int(), res.body().size(), static_cast<double>(us) / 1000.0,
                   ctx.request_id, ctx.principal ? ctx.principal->key_id : "-");
    }
  };
  return h;
}

}  // namespace osprey::server
