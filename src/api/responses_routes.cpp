// POST /v1/responses: OpenAI's Responses API, relayed like chat completions
// (routing, fallback, the server's key, usage metered, budgets enforced by
// the same middleware). Declared in chat_routes.hpp.
//
// Non-streaming: the body goes upstream byte for byte and the answer comes
// back as it is; usage.{input,output}_tokens go to the ledger.
//
// Streaming (stream: true): the upstream's typed events ("event:
// response.output_text.delta" + data) are relayed with their names, in
// order. The usage comes in the last event (response.completed, or
// response.incomplete / response.failed); a stream cut short is charged an
// estimate (text relayed / 4, input text / 4), as for chat. The stream ends
// when the upstream's ends (the Responses API sends no [DONE]); an error
// after the stream began is one `event: error` (the shape the SDKs raise).

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include "api/chat_routes.hpp"
#include "api/gateway_relay.hpp"
#include "common/json_scan.hpp"

namespace osprey::api {

using gateway::Upstreams;
using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxResponsesBody = 16 * 1024 * 1024;  // images as data: URLs

void record_response_usage(Context& ctx, std::string_view usage) {
  relay::record_token_counts(ctx, usage, "input_tokens", "output_tokens");
}

// The member `key` of a JSON object's text, when it is an object.
std::string_view object_member(std::string_view object, std::string_view key) {
  std::string_view found;
  json_scan::scan(object, [&](const json_scan::Member& m) {
    if (m.key_is(key) && m.kind == json_scan::Kind::object) found = m.value;
  });
  return found;
}

// Rough input size when the upstream never reported usage: the text of
// `instructions` and `input` (a string, or items whose content is a string
// or parts with "text") / 4.
long estimate_input_tokens(const json& req) {
  std::size_t chars = 0;
  auto add_text = [&chars](const json& v) {
    if (v.is_string()) chars += v.get_ref<const std::string&>().size();
  };
  if (!req.is_object()) return 0;
  if (auto it = req.find("instructions"); it != req.end()) add_text(*it);
  if (auto it = req.find("input"); it != req.end()) {
    add_text(*it);
    if (it->is_array())
      for (const auto& item : *it) {
        if (!item.is_object()) continue;
        auto c = item.find("content");
        if (c == item.end()) continue;
        add_text(*c);
        if (c->is_array())
          for (const auto& part : *c)
            if (part.is_object() && part.contains("text")) add_text(part["text"]);
      }
  }
  return static_cast<long>((chars + 3) / 4);
}

std::string error_event(const ApiError& e) {
  json err = {{"message", e.what()},
              {"type", e.type()},
              {"param", nullptr},
              {"code", e.code().empty() ? json(nullptr) : json(e.code())}};
  json body = {{"type", "error"}, {"code", err["code"]}, {"message", e.what()}, {"param", nullptr}, {"error", err}};
  return "event: error\ndata: " + body.dump() + "\n\n";
}

Awaitable<Response> stream_response(Context& ctx, Upstreams& ups) {
  if (!ctx.stream) throw ApiError(400, "streaming is not available on this connection", "invalid_request_error", "stream_unsupported", "stream");
  bool got_usage = false;
  relay::Held held;

  gateway::StreamCallbacks cb;
  cb.on_open = [&]() -> Awaitable<void> { co_await ctx.stream->begin(relay::stream_head(ctx)); };
  cb.on_named_event = [&](std::string_view event, std::string_view data) {
    // Only the events that matter are looked into: text deltas (for an
    // estimate, should the stream break) and the final one (usage).
    std::string_view type = event;
    if (type.empty()) {  // a server that sends no event names: the data's "type"
      json_scan::scan(data, [&](const json_scan::Member& m) {
        if (m.key_is("type") && m.kind == json_scan::Kind::string) type = m.value;
      });
      if (type.size() >= 2) type = type.substr(1, type.size() - 2);
    }
    std::size_t text_chars = 0;
    if (type == "response.output_text.delta" || type == "response.function_call_arguments.delta") {
      json_scan::scan(data, [&](const json_scan::Member& m) {
        if (m.key_is("delta") && m.kind == json_scan::Kind::string) text_chars += m.value.size() - 2;
      });
    } else if (type == "response.completed" || type == "response.incomplete" || type == "response.failed") {
      auto usage = object_member(object_member(data, "response"), "usage");
      if (!usage.empty()) {
        record_response_usage(ctx, usage);
        got_usage = true;
      }
    }
    held.add(data, text_chars, event);
  };
  cb.on_flush = [&held, &ctx] { return held.flush(*ctx.stream); };

  ctx.usage.upstream_called = true;
  gateway::StreamResult result;
  bool client_gone = false;
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    result = co_await gw.stream("/responses", std::string(ctx.request.body()), ctx.cancellation, cb);
  };
  try {
    co_await ups.call(ctx.usage.model, ctx.cancellation, std::move(attempt));
  } catch (const boost::system::system_error&) {
    client_gone = true;
  } catch (const ApiError& e) {
    if (!ctx.stream->started()) throw;
    result.error = e;
  }
  std::string last = result.error ? error_event(*result.error) : std::string();  // named: see chat_routes.cpp
  if (!client_gone) co_await relay::end_stream(*ctx.stream, held, std::move(last));
  if (!got_usage) {
    ctx.usage.completion_tokens = static_cast<long>((held.sent_chars + 3) / 4);
    ctx.usage.prompt_tokens = estimate_input_tokens(json::parse(ctx.request.body(), nullptr, false));
  }
  relay::count_tokens(ctx.usage.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  co_return Response{http::Status::ok, 11};  // ignored: the stream already answered
}

Awaitable<Response> json_response(Context& ctx, Upstreams& ups) {
  ctx.usage.upstream_called = true;
  gateway::UpstreamReply reply;
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    reply = co_await gw.request_json(http::Verb::post, "/responses", ctx.request.body(), ctx.cancellation);
  };
  co_await ups.call(ctx.usage.model, ctx.cancellation, std::move(attempt));
  std::string_view usage;
  auto doc = json_scan::scan(reply.body, [&usage](const json_scan::Member& m) {
    if (m.key_is("usage")) usage = m.kind == json_scan::Kind::object ? m.value : std::string_view();
  });
  if (!doc.valid) throw ApiError(502, "upstream returned malformed JSON", "api_error", "upstream_invalid_response");
  record_response_usage(ctx, usage);
  relay::count_tokens(ctx.usage.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  co_return relay::upstream_response(ctx, std::move(reply));
}

// Not a coroutine (see chat_completions): checks, then the relaying coroutine.
Awaitable<Response> create_response(Context& ctx, Upstreams& ups) {
  http::check_json_body(ctx);
  std::optional<json_scan::Member> model, stream;
  auto doc = json_scan::scan(ctx.request.body(), [&](const json_scan::Member& m) {
    if (m.key_is("model")) model = m;
    else if (m.key_is("stream")) stream = m;
  });
  if (!doc.valid)
    throw bad_request("request body is not valid JSON (at byte " +
                          std::to_string(relay::json_error_byte(ctx.request.body())) + ")",
                      {}, "invalid_json");
  if (!doc.object) throw bad_request("request body must be a JSON object");
  using json_scan::Kind;
  if (stream && stream->kind != Kind::null && stream->kind != Kind::boolean)
    throw bad_request("stream must be a boolean", "stream");
  relay::checked_model(ctx, model);
  if (stream && stream->value == "true") return stream_response(ctx, ups);
  return json_response(ctx, ups);
}

}  // namespace

void add_responses_route(http::Router& router, std::shared_ptr<Upstreams> ups) {
  http::Route r;
  r.method = http::Verb::post;
  r.path = "/v1/responses";
  r.handler = [ups](Context& ctx) { return create_response(ctx, *ups); };
  r.summary = "Create a model response (OpenAI Responses API, relayed to the upstream serving the model)";
  r.tag = "OpenAI gateway";
  r.description =
      "Forwards the body unchanged with the server's key to the upstream that serves `model` (falling back to the "
      "next one on 429/5xx/timeouts). With `stream: true` the answer is the upstream's typed Server-Sent Events "
      "(`event: response.output_text.delta` ...), relayed as they arrive and ending with `response.completed`.";
  r.request_body = {{"required", true},
                    {"content",
                     {{"application/json",
                       {{"schema",
                         {{"type", "object"},
                          {"required", {"model", "input"}},
                          {"properties",
                           {{"model", {{"type", "string"}}},
                            {"input", {{"oneOf", {{{"type", "string"}}, {{"type", "array"}}}}}},
                            {"instructions", {{"type", "string"}}},
                            {"stream", {{"type", "boolean"}}}}}}}}}}}};
  r.responses = {{"200", "response object, or text/event-stream of typed response events"},
                 {"400", "Invalid request, or rejected by the upstream"},
                 {"404", "No configured upstream serves the model"},
                 {"429", "Rate limited (Osprey quota or upstream; see Retry-After)"},
                 {"502", "Upstream unreachable or sent a malformed response"},
                 {"503", "No upstream API key configured"},
                 {"504", "Upstream timed out"}};
  r.response_schema = {{"type", "object"},
                       {"properties",
                        {{"id", {{"type", "string"}}},
                         {"object", {{"type", "string"}}},
                         {"output", {{"type", "array"}}},
                         {"usage", {{"type", "object"}}}}}};
  r.scope = "chat";
  r.max_body_bytes = kMaxResponsesBody;
  r.streaming = true;
  router.add(std::move(r));
}

}  // namespace osprey::api
