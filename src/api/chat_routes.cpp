#include "api/chat_routes.hpp"

#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include "common/json_scan.hpp"
#include "api/gateway_relay.hpp"
#include "gateway/chat_chunk.hpp"
#include "gateway/upstreams.hpp"
#include "http/response.hpp"
#include "metrics/registry.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;
using gateway::Upstreams;
using relay::count_tokens;
using relay::record_token_counts;

namespace {

constexpr std::size_t kMaxChatBody = 16 * 1024 * 1024;  // images as data: URLs make big requests
constexpr std::size_t kMaxEmbeddingsBody = 8 * 1024 * 1024;

// Validates the parts of the request the gateway relies on; returns the model.
std::string require_model(Context& ctx, const json& req) {
  if (!req.is_object()) throw bad_request("request body must be a JSON object");
  auto it = req.find("model");
  if (it == req.end() || it->is_null()) throw bad_request("you must provide a model parameter", "model", "missing_required_parameter");
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) throw bad_request("model must be a non-empty string", "model");
  std::string model = it->get<std::string>();
  if (ctx.principal && !ctx.principal->may_use_model(model)) {
    throw ApiError(403, "this API key may not use model '" + model + "'", "permission_error", "model_not_allowed", "model");
  }
  ctx.usage.model = model;
  return model;
}

// Parses the upstream's 2xx body; a body that is not JSON is the upstream's
// fault, not the client's: 502.
json parse_upstream(const gateway::UpstreamReply& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw ApiError(502, "upstream returned malformed JSON", "api_error", "upstream_invalid_response");
  return j;
}

// The top-level fields of a chat request the gateway acts on ("model",
// "stream") and a validity check, in one pass (common/json_scan.hpp): a
// non-streaming request is forwarded byte for byte, so it never needs a DOM.
// A repeated key: the last one counts, as in a DOM.
struct ChatFields {
  json_scan::Result doc;
  std::optional<json_scan::Member> model, stream, stream_options;
};

ChatFields scan_chat_request(std::string_view body) {
  ChatFields f;
  f.doc = json_scan::scan(body, [&f](const json_scan::Member& m) {
    if (m.key_is("model"))
      f.model = m;
    else if (m.key_is("stream"))
      f.stream = m;
    else if (m.key_is("stream_options"))
      f.stream_options = m;
  });
  return f;
}

// The body a stream sends upstream: the client's, with usage asked for
// (stream_options.include_usage), so that the ledger always gets the
// upstream's own token counts. Spliced into the text when the request has
// no stream_options or already asks for usage (what SDKs send); rewritten
// through a DOM otherwise. Sets `client_wants_usage` (whether the client
// gets the usage chunk) and throws 400 for a stream_options that is not an
// object.
std::string stream_upstream_body(std::string_view body, const ChatFields& f, bool& client_wants_usage) {
  using json_scan::Kind;
  client_wants_usage = false;
  if (!f.stream_options) {
    // Valid, and an object: its first non-blank character (after a byte
    // order mark, which holds no '{') is the '{'.
    static constexpr std::string_view kAsk = "\"stream_options\":{\"include_usage\":true}";
    const auto open = body.find('{');
    std::string out;
    out.reserve(body.size() + kAsk.size() + 1);
    out.append(body.substr(0, open + 1)).append(kAsk);
    // Empty object or not: a comma only when a member follows.
    const auto next = body.find_first_not_of(" \t\r\n", open + 1);
    if (next != std::string_view::npos && body[next] != '}') out.push_back(',');
    out.append(body.substr(open + 1));
    return out;
  }
  const auto& so = *f.stream_options;
  if (so.kind != Kind::object && so.kind != Kind::null) throw bad_request("stream_options must be an object", "stream_options");
  if (so.kind == Kind::object) {
    std::optional<json_scan::Member> include;
    json_scan::scan(so.value, [&include](const json_scan::Member& m) {
      if (m.key_is("include_usage")) include = m;
    });
    if (include && include->value == "true") {
      client_wants_usage = true;
      return std::string(body);  // already asks for usage: byte for byte
    }
  }
  json req = json::parse(body);  // valid: scanned above
  auto& opts = req["stream_options"];
  if (opts.is_object()) {
    auto it = opts.find("include_usage");
    client_wants_usage = it != opts.end() && it->is_boolean() && it->get<bool>();
  }
  opts["include_usage"] = true;
  return req.dump();
}

// The usage chunk of a stream: true if `data` is a JSON object whose
// "usage" is an object (its token counts then go to ctx.usage);
// `usage_only` says whether it carries no choices (the chunk OpenAI sends
// last when usage is asked for).
bool take_usage_chunk(Context& ctx, std::string_view data, bool& usage_only) {
  using json_scan::Kind;
  std::optional<json_scan::Member> usage, choices;
  auto doc = json_scan::scan(data, [&](const json_scan::Member& m) {
    if (m.key_is("usage"))
      usage = m;
    else if (m.key_is("choices"))
      choices = m;
  });
  if (!doc.object || !usage || usage->kind != Kind::object) return false;
  record_token_counts(ctx, usage->value);
  // No "choices", or an empty array ("[" and "]" with only blanks between).
  usage_only = !choices || (choices->kind == Kind::array &&
                            choices->value.find_first_not_of(" \t\r\n", 1) == choices->value.size() - 1);
  return true;
}

// Validates the upstream's JSON and picks usage.{prompt,completion}_tokens
// out of it without building a DOM of the whole response (this runs on
// every request; an embeddings answer can be megabytes).
void record_upstream_usage(Context& ctx, const gateway::UpstreamReply& r) {
  std::string_view usage;
  auto doc = json_scan::scan(r.body, [&usage](const json_scan::Member& m) {
    if (m.key_is("usage")) usage = m.kind == json_scan::Kind::object ? m.value : std::string_view();
  });
  if (!doc.valid) throw ApiError(502, "upstream returned malformed JSON", "api_error", "upstream_invalid_response");
  record_token_counts(ctx, usage);  // an empty view: no usage object, both 0
}

// Rough prompt size when the upstream never reported usage: characters of
// the message texts / 4 (OpenAI's rule of thumb for English).
long estimate_prompt_tokens(const json& req) {
  std::size_t chars = 0;
  if (auto m = req.find("messages"); m != req.end() && m->is_array()) {
    for (const auto& msg : *m) {
      if (!msg.is_object()) continue;
      auto c = msg.find("content");
      if (c == msg.end()) continue;
      if (c->is_string()) chars += c->get_ref<const std::string&>().size();
      else if (c->is_array())
        for (const auto& part : *c)
          if (part.is_object() && part.contains("text") && part["text"].is_string()) chars += part["text"].get_ref<const std::string&>().size();
    }
  }
  return static_cast<long>((chars + 3) / 4);
}

// Relays a streaming chat completion; `upstream_body` asks for usage
// (stream_upstream_body).
Awaitable<Response> stream_chat(Context& ctx, Upstreams& ups, std::string upstream_body, bool client_wants_usage) {
  if (!ctx.stream) throw ApiError(400, "streaming is not available on this connection", "invalid_request_error", "stream_unsupported", "stream");

  bool got_usage = false;
  relay::Held held;

  gateway::StreamCallbacks cb;
  // The head is held by the sink: it leaves with the first events, or alone
  // in on_flush when the gateway is about to wait for them.
  cb.on_open = [&]() -> Awaitable<void> { co_await ctx.stream->begin(relay::stream_head(ctx)); };
  cb.on_event = [&](std::string_view data) {
    // Only the usage chunk needs a real parse; content deltas are counted
    // with a cheap scan (this runs for every token of every stream).
    const auto facts = gateway::inspect_chunk(data);
    if (facts.has_usage) {
      bool usage_only = false;
      if (take_usage_chunk(ctx, data, usage_only)) {
        got_usage = true;
        if (usage_only && !client_wants_usage) return;  // the client did not ask for it
      }
    }
    held.add(data, facts.text_chars);
  };
  cb.on_flush = [&held, &ctx] { return held.flush(*ctx.stream); };

  // Usage for the ledger: the upstream's own figures when its usage chunk
  // arrived; otherwise (stream cut short) an estimate of what was sent:
  // completion = characters of content/tool-call deltas relayed / 4, prompt
  // = message text / 4. Estimates are rough but never zero for a stream
  // that produced output, so a client cannot get tokens for free by
  // disconnecting early.
  auto finish_usage = [&] {
    if (!got_usage) {
      ctx.usage.completion_tokens = static_cast<long>((held.sent_chars + 3) / 4);
      // Only a stream cut short pays for this parse (the body was valid).
      ctx.usage.prompt_tokens = estimate_prompt_tokens(json::parse(ctx.request.body(), nullptr, false));
    }
    count_tokens(ctx.usage.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  };

  ctx.usage.upstream_called = true;
  gateway::StreamResult result;
  bool client_gone = false;
  // One upstream after another until one opens the stream (upstreams.hpp);
  // once bytes went to the client, an error ends the stream instead.
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    result = co_await gw.stream("/chat/completions", upstream_body, ctx.cancellation, cb);
  };
  try {
    co_await ups.call(ctx.usage.model, ctx.cancellation, std::move(attempt));
  } catch (const boost::system::system_error&) {
    // The client went away while we wrote to it; the gateway already closed
    // the upstream. Nothing more can be sent.
    client_gone = true;
  } catch (const ApiError& e) {
    if (!ctx.stream->started()) throw;  // nothing sent yet: the router renders the error with its status
    result.error = e;  // failed after the response began: the status cannot change any more
  }
  // Named before the co_await: g++ 12 mishandles temporaries of a
  // conditional inside a co_await expression.
  std::string last = result.error ? relay::sse_error_event(*result.error) : std::string("data: [DONE]\n\n");
  if (!client_gone) co_await relay::end_stream(*ctx.stream, held, std::move(last));
  finish_usage();
  co_return Response{http::Status::ok, 11};  // ignored: the stream already answered
}

// A non-streaming chat completion: the body goes upstream byte for byte as
// the client sent it, and the answer comes back as it is.
Awaitable<Response> json_chat(Context& ctx, Upstreams& ups, const char* path) {
  ctx.usage.upstream_called = true;
  gateway::UpstreamReply reply;
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    reply = co_await gw.request_json(http::Verb::post, path, ctx.request.body(), ctx.cancellation);
  };
  co_await ups.call(ctx.usage.model, ctx.cancellation, std::move(attempt));
  record_upstream_usage(ctx, reply);
  count_tokens(ctx.usage.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  co_return relay::upstream_response(ctx, std::move(reply));
}

// Not a coroutine: it checks the request (throwing ApiError, which the
// router renders) and hands back the coroutine that relays it. A coroutine
// here would keep its own frame (the scan's results, the strings) alive for
// the whole of every open stream.
Awaitable<Response> chat_completions(Context& ctx, Upstreams& ups) {
  http::check_json_body(ctx);
  const auto f = scan_chat_request(ctx.request.body());
  if (!f.doc.valid)
    throw bad_request("request body is not valid JSON (at byte " + std::to_string(relay::json_error_byte(ctx.request.body())) +
                          ")",
                      {}, "invalid_json");
  using json_scan::Kind;
  if (!f.doc.object) throw bad_request("request body must be a JSON object");
  if (f.stream && f.stream->kind != Kind::null && f.stream->kind != Kind::boolean)
    throw bad_request("stream must be a boolean", "stream");
  relay::checked_model(ctx, f.model);
  if (f.stream && f.stream->value == "true") {
    bool client_wants_usage = false;
    std::string upstream_body = stream_upstream_body(ctx.request.body(), f, client_wants_usage);
    return stream_chat(ctx, ups, std::move(upstream_body), client_wants_usage);
  }
  return json_chat(ctx, ups, "/chat/completions");
}

Awaitable<Response> embeddings(Context& ctx, Upstreams& ups) {
  json req = http::parse_json_body(ctx);
  require_model(ctx, req);
  if (!req.contains("input")) throw bad_request("you must provide an input parameter", "input", "missing_required_parameter");
  co_return co_await json_chat(ctx, ups, "/embeddings");
}

// The models every upstream serves: each one's own list (cached by its
// Gateway), cut to the names its `models` patterns route to it, first
// upstream first when two list the same name, and cut to the key's allowed
// models. An upstream that fails is left out; the error is answered only
// when none answered.
Awaitable<Response> list_models(Context& ctx, Upstreams& ups) {
  json data = json::array();
  std::set<std::string> seen;
  std::optional<ApiError> failure;
  int answered = 0;
  const bool single = ups.all().size() == 1 && ups.all().front()->models.empty();
  for (const auto& u : ups.all()) {
    gateway::UpstreamReply reply;
    try {
      reply = co_await u->gateway->models(ctx.cancellation);
    } catch (const ApiError& e) {
      if (e.status() == 499) throw;
      failure = e;
      continue;
    }
    ++answered;
    auto j = parse_upstream(reply);
    const bool filter = ctx.principal && !ctx.principal->allowed_models.empty();
    if (single && !filter) co_return relay::upstream_response(ctx, std::move(reply));  // as it came
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) continue;
    for (auto& m : j["data"]) {
      if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
      const auto& id = m["id"].get_ref<const std::string&>();
      if (!u->serves(id) || (filter && !ctx.principal->may_use_model(id))) continue;
      if (seen.insert(id).second) data.push_back(m);
    }
  }
  if (answered == 0 && failure) throw *failure;
  co_return http::json_response(ctx, 200, json{{"object", "list"}, {"data", std::move(data)}});
}

const std::vector<std::pair<std::string, std::string>> kUpstreamErrors = {
    {"400", "Invalid request (missing model, bad JSON) or rejected by the upstream"},
    {"401", "Missing/invalid Osprey key, or the upstream rejected the gateway's key"},
    {"429", "Rate limited (Osprey quota or upstream; see Retry-After)"},
    {"502", "Upstream unreachable or sent a malformed/oversized response"},
    {"503", "No upstream API key configured, or upstream unavailable"},
    {"504", "Upstream timed out"}};

}  // namespace

void add_chat_routes(http::Router& router, gateway::Gateway& gw) {
  // Not owned: the caller keeps gw alive longer than the router.
  add_chat_routes(router, Upstreams::single(std::shared_ptr<gateway::Gateway>(&gw, [](gateway::Gateway*) {})));
}

void add_chat_routes(http::Router& router, std::shared_ptr<Upstreams> ups) {
  // Each handler holds a share: the upstreams live as long as the routes.
  auto g = ups;
  add_responses_route(router, ups);
  {
    http::Route r;
    r.method = http::Verb::post;
    r.path = "/v1/chat/completions";
    r.handler = [g](Context& ctx) { return chat_completions(ctx, *g); };
    r.summary = "Chat completion (OpenAI-compatible, relayed to the upstream)";
    r.tag = "OpenAI gateway";
    r.description =
        "Forwards the body unchanged to the upstream with the server's API key. `model` is required. With "
        "`stream: true` the answer is Server-Sent Events relayed chunk by chunk and ending with `data: [DONE]`.";
    r.request_body = {{"required", true},
                      {"content", {{"application/json", {{"schema", {{"type", "object"}, {"required", {"model", "messages"}},
                                                                     {"properties", {{"model", {{"type", "string"}}},
                                                                                     {"messages", {{"type", "array"}}},
                                                                                     {"stream", {{"type", "boolean"}}}}}}}}}}}};
    r.responses = {{"200", "chat.completion object, or text/event-stream of chat.completion.chunk"}};
    r.responses.insert(r.responses.end(), kUpstreamErrors.begin(), kUpstreamErrors.end());
    r.response_schema = {{"type", "object"}, {"properties", {{"id", {{"type", "string"}}}, {"choices", {{"type", "array"}}}, {"usage", {{"type", "object"}}}}}};
    r.scope = "chat";
    r.max_body_bytes = kMaxChatBody;
    r.streaming = true;
    router.add(std::move(r));
  }
  {
    http::Route r;
    r.method = http::Verb::post;
    r.path = "/v1/embeddings";
    r.handler = [g](Context& ctx) { return embeddings(ctx, *g); };
    r.summary = "Embeddings (OpenAI-compatible, relayed to the upstream)";
    r.tag = "OpenAI gateway";
    r.request_body = {{"required", true},
                      {"content", {{"application/json", {{"schema", {{"type", "object"}, {"required", {"model", "input"}}}}}}}}};
    r.responses = {{"200", "list of embeddings"}};
    r.responses.insert(r.responses.end(), kUpstreamErrors.begin(), kUpstreamErrors.end());
    r.response_schema = {{"type", "object"}, {"properties", {{"data", {{"type", "array"}}}, {"usage", {{"type", "object"}}}}}};
    r.scope = "chat";
    r.max_body_bytes = kMaxEmbeddingsBody;
    router.add(std::move(r));
  }
  {
    http::Route r;
    r.method = http::Verb::get;
    r.path = "/v1/models";
    r.handler = [g](Context& ctx) { return list_models(ctx, *g); };
    r.summary = "Models the configured upstreams serve (each one's list, cached)";
    r.tag = "OpenAI gateway";
    r.responses = {{"200", "list of models"}};
    r.responses.insert(r.responses.end(), kUpstreamErrors.begin(), kUpstreamErrors.end());
    r.response_schema = {{"type", "object"}, {"properties", {{"object", {{"type", "string"}}}, {"data", {{"type", "array"}}}}}};
    r.scope = "chat";
    router.add(std::move(r));
  }
}

}  // namespace osprey::api
