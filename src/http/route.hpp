#pragma once
// Route: one entry of the route table, with the documentation that
// /openapi.json is generated from.
//
//   router.add({
//       .method = Verb::get, .path = "/v2/models/{name}/ready",
//       .handler = [svc](Context& ctx) -> Awaitable<Response> { ... },
//       // or, when it never waits: .sync_handler = [svc](Context& ctx) { ... },
//       .summary = "Model readiness", .tag = "KServe v2",
//       .scope = "detect",                       // "" = public, no key needed
//       .responses = {{"200", "Ready"}, {"404", "Unknown model"}},
//   });
//
// `scope` is what the auth middleware checks; `max_body_bytes` (0 = the
// server default) is the per-route cap the server enforces with 413 before it
// reads the body; `error_style` picks the error body shape.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/context.hpp"
#include "http/message.hpp"

namespace osprey::http {

using Handler = std::function<Awaitable<Response>(Context&)>;
// For handlers that never wait (probes, metadata): the router can call them
// without a coroutine frame. A route sets `handler` or `sync_handler`.
using SyncHandler = std::function<Response(Context&)>;

enum class ErrorStyle { openai, kserve };

struct ParamDoc {
  std::string name;
  std::string in = "query";  // "path", "query" or "header"
  std::string description;
  std::string type = "string";  // JSON schema type
  bool required = false;
};

struct Route {
  Verb method = Verb::get;
  std::string path;  // template: literal segments and {name} parameters
  Handler handler;
  SyncHandler sync_handler;

  // Documentation (OpenAPI).
  std::string summary;
  std::string tag;
  std::string description;
  std::vector<ParamDoc> params;  // query/header params; path params are derived from `path`
  nlohmann::json request_body;   // OpenAPI requestBody object, or null
  std::vector<std::pair<std::string, std::string>> responses;  // status -> description
  nlohmann::json response_schema;  // schema of the 200 JSON body, or null

  // Behaviour.
  std::string scope;  // "" = public
  // A second scope the key must also hold (a route that is two things at
  // once: /v1/vision/describe detects and chats). "" = none.
  std::string also_scope;
  // Counts uploaded images against images-per-minute limits (detect-scoped
  // uploads always do).
  bool counts_images = false;
  std::size_t max_body_bytes = 0;  // 0 = server default
  ErrorStyle error_style = ErrorStyle::openai;
  bool hidden = false;  // left out of the OpenAPI document
  bool streaming = false;  // may answer with Server-Sent Events
  bool websocket = false;  // a GET that upgrades to a WebSocket (ctx.websocket)
};

}  // namespace osprey::http
