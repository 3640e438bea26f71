#include "api/model_routes.hpp"

#include <fmt/format.h>

#include "api/detection_routes.hpp"
#include "common/error.hpp"
#include "http/response.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;

namespace {

nlohmann::json model_schema() {
  auto s = nlohmann::json{{"type", "string"}};
  auto i = nlohmann::json{{"type", "integer"}};
  auto n = nlohmann::json{{"type", "number"}};
  return {{"type", "object"},
          {"properties",
           {{"name", s},
            {"state", {{"type", "string"}, {"enum", {"loading", "available", "unavailable", "unloading"}}}},
            {"format", s},
            {"engine", s},
            {"family", s},
            {"reason", s},
            {"path", s},
            {"input_width", i},
            {"input_height", i},
            {"classes", {{"type", "array"}, {"items", s}}},
            {"load_ms", n},
            {"loaded_at", s},
            {"default_confidence", n},
            {"default_iou", n}}}};
}

}  // namespace

void add_model_routes(http::Router& router, inference::ModelRegistry& reg) {
  router.add({.method = http::Verb::get,
              .path = "/v1/detection/models",
              .handler = [&reg](Context& ctx) -> Awaitable<Response> {
                nlohmann::json data = nlohmann::json::array();
                for (const auto& m : reg.list())
                  if (!ctx.principal || ctx.principal->may_use_model(m.name)) data.push_back(m.to_json());
                co_return http::json_response(ctx, 200, {{"object", "list"}, {"data", std::move(data)}});
              },
              .summary = "List detection models",
              .tag = "Detection models",
              .responses = {{"200", "All models in the repository, with their state"}},
              .response_schema = {{"type", "object"},
                                  {"properties",
                                   {{"object", {{"type", "string"}}},
                                    {"data", {{"type", "array"}, {"items", model_schema()}}}}}},
              .scope = "detect"});
  router.add({.method = http::Verb::get,
              .path = "/v1/detection/models/{model}",
              .handler = [&reg](Context& ctx) -> Awaitable<Response> {
                std::string name(ctx.param("model"));
                auto info = reg.info(name);
                if (!info || (ctx.principal && !ctx.principal->may_use_model(name)))
                  throw not_found(fmt::format("model '{}' not found", name), "model_not_found");
                co_return http::json_response(ctx, 200, info->to_json());
              },
              .summary = "Read a detection model",
              .tag = "Detection models",
              .responses = {{"200", "The model"}, {"404", "Unknown model"}},
              .response_schema = model_schema(),
              .scope = "detect"});
  router.add({.method = http::Verb::put,
              .path = "/v1/detection/models/{model}",
              .handler = [&reg](Context& ctx) -> Awaitable<Response> {
                nlohmann::json overrides = nlohmann::json::object();
                if (!ctx.request.body().empty()) {
                  overrides = http::parse_json_body(ctx);
                  if (!overrides.is_object()) throw bad_request("the body must be a JSON object of overrides");
                }
                std::string name(ctx.param("model"));
                // load() blocks for the whole load (up to ~1 s): never on the I/O thread.
                // Named, not a temporary inside co_await: see detection::run_on.
                auto load = [&reg, name, overrides] { return reg.load(name, overrides); };
                inference::ModelInfo info = co_await detection::run_on(reg.cpu_pool(), std::move(load));
                if (info.state != "available")
                  throw ApiError(422, fmt::format("model '{}' failed to load: {}", name, info.reason),
                                 "invalid_request_error", "model_load_failed");
                co_return http::json_response(ctx, 200, info.to_json());
              },
              .summary = "Load or reload a detection model",
              .tag = "Detection models",
              .description = "(Re)loads the model from its repository folder. The optional JSON body overrides "
                             "model.toml keys (family, input_width, input_height, confidence, iou, names_file, "
                             "engine). During a reload the previous instance keeps serving.",
              .request_body = {{"required", false},
                               {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}},
              .responses = {{"200", "Loaded and available"},
                            {"400", "Bad override"},
                            {"404", "No such folder in the repository"},
                            {"422", "The model failed to load"}},
              .response_schema = model_schema(),
              .scope = "admin"});
  router.add({.method = http::Verb::delete_,
              .path = "/v1/detection/models/{model}",
              .handler = [&reg](Context& ctx) -> Awaitable<Response> {
                std::string name(ctx.param("model"));
                // unload() waits for in-flight requests: off the I/O thread.
                auto unload = [&reg, name] { return reg.unload(name); };
                bool removed = co_await detection::run_on(reg.cpu_pool(), std::move(unload));
                if (!removed) throw not_found(fmt::format("model '{}' not found", name), "model_not_found");
                co_return http::json_response(ctx, 200, {{"id", name}, {"object", "model"}, {"deleted", true}});
              },
              .summary = "Unload a detection model",
              .tag = "Detection models",
              .description = "New requests get 404 at once; requests already running finish first. The folder "
                             "stays in the repository: PUT loads it again.",
              .responses = {{"200", "Unloaded"}, {"404", "Unknown model"}},
              .scope = "admin"});
}

}  // namespace osprey::api
