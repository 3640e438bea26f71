#include "api/core_routes.hpp"

#include "api/console_routes.hpp"
#include "api/openapi.hpp"
#include "http/response.hpp"

extern "C" {
extern const char osprey_docs_bundle_js[], osprey_docs_bundle_js_end[];
extern const char osprey_docs_css[], osprey_docs_css_end[];
extern const char osprey_docs_index_html[], osprey_docs_index_html_end[];
}

namespace osprey::api {

using http::Context;
using http::Response;
using http::Verb;

namespace {

Response asset(const Context& ctx, const char* begin, const char* end, std::string_view type) {
  auto res = http::make_response(ctx, 200, std::string(begin, end), type);
  res.set(http::Field::cache_control, "public, max-age=3600");
  return res;
}

nlohmann::json status_schema() {
  return {{"type", "object"}, {"properties", {{"status", {{"type", "string"}}}}}};
}

}  // namespace

void add_core_routes(http::Router& router, ServerState& state) {
  add_console_routes(router);
  auto ready = [&state](Context& ctx) -> Response {
    // Probes are hit often: the body is a constant, not a JSON document built per call.
    if (state.ready && !state.draining) return http::make_response(ctx, 200, R"({"status":"ready"})", "application/json");
    auto res = http::json_response(ctx, 503, {{"status", state.draining ? "draining" : "starting"}});
    res.set(http::Field::retry_after, "1");
    return res;
  };
  router.add({.method = Verb::get,
              .path = "/v2/health/live",
              .sync_handler = [](Context& ctx) {
                return http::make_response(ctx, 200, R"({"status":"live"})", "application/json");
              },
              .summary = "Liveness probe",
              .tag = "Health",
              .responses = {{"200", "The process is up"}},
              .response_schema = status_schema()});
  router.add({.method = Verb::get,
              .path = "/v2/health/ready",
              .sync_handler = ready,
              .summary = "Readiness probe",
              .tag = "Health",
              .description = "200 once startup (model loading, key store) has finished; 503 before, and while "
                             "shutting down.",
              .responses = {{"200", "Ready to serve"}, {"503", "Starting or draining"}},
              .response_schema = status_schema()});
  router.add({.method = Verb::get,
              .path = "/healthz",
              .sync_handler = ready,
              .summary = "Readiness probe (alias of /v2/health/ready)",
              .tag = "Health",
              .responses = {{"200", "Ready to serve"}, {"503", "Starting or draining"}},
              .response_schema = status_schema()});
  router.add({.method = Verb::get,
              .path = "/v2",
              .sync_handler = [&state](Context& ctx) {
                return http::json_response(
                    ctx, 200,
                    {{"name", "osprey"},
                     {"version", state.version},
                     {"extensions", {"binary_tensor_data", "model_repository", "statistics"}}});
              },
              .summary = "Server metadata (KServe v2)",
              .tag = "KServe v2",
              .error_style = http::ErrorStyle::kserve});
  router.add({.method = Verb::get,
              .path = "/openapi.json",
              .sync_handler = [&router, &state](Context& ctx) {
                return http::json_response(ctx, 200, build_openapi(router.routes(), state.version));
              },
              .summary = "OpenAPI 3.1 document",
              .tag = "Docs"});
  router.add({.method = Verb::get,
              .path = "/docs",
              .sync_handler = [](Context& ctx) {
                return asset(ctx, osprey_docs_index_html, osprey_docs_index_html_end, "text/html; charset=utf-8");
              },
              .summary = "Interactive API documentation",
              .tag = "Docs"});
  router.add({.method = Verb::get,
              .path = "/docs/swagger-ui-bundle.js",
              .sync_handler = [](Context& ctx) {
                return asset(ctx, osprey_docs_bundle_js, osprey_docs_bundle_js_end,
                                "application/javascript; charset=utf-8");
              },
              .hidden = true});
  router.add({.method = Verb::get,
              .path = "/docs/swagger-ui.css",
              .sync_handler = [](Context& ctx) {
                return asset(ctx, osprey_docs_css, osprey_docs_css_end, "text/css; charset=utf-8");
              },
              .hidden = true});
}

}  // namespace osprey::api
