#include "api/gateway_relay.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include "metrics/registry.hpp"

namespace osprey::api::relay {

using nlohmann::json;

void count_tokens(const std::string& model, long prompt, long completion) {
  thread_local std::unordered_map<std::string, std::pair<metrics::Counter*, metrics::Counter*>> cache;
  auto& c = cache[model];
  if (!c.first) {
    auto& reg = metrics::Registry::global();
    c.first = &reg.counter("osprey_tokens_total", "Tokens through the gateway", {{"model", model}, {"kind", "prompt"}});
    c.second = &reg.counter("osprey_tokens_total", "Tokens through the gateway", {{"model", model}, {"kind", "completion"}});
  }
  if (prompt > 0) c.first->inc(static_cast<double>(prompt));
  if (completion > 0) c.second->inc(static_cast<double>(completion));
}

namespace {
struct ErrorPosition : nlohmann::detail::json_sax_acceptor<json> {
  std::size_t byte = 0;
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
    byte = pos;
    return false;
  }
};
}  // namespace

std::size_t json_error_byte(std::string_view text) {
  ErrorPosition at;
  json::sax_parse(text, &at);
  return at.byte;
}

std::string checked_model(http::Context& ctx, const std::optional<json_scan::Member>& m) {
  using json_scan::Kind;
  if (!m || m->kind == Kind::null)
    throw bad_request("you must provide a model parameter", "model", "missing_required_parameter");
  std::string model = m->kind == Kind::string ? json_scan::decode_string(m->value) : std::string();
  if (model.empty()) throw bad_request("model must be a non-empty string", "model");
  if (ctx.principal && !ctx.principal->may_use_model(model))
    throw ApiError(403, "this API key may not use model '" + model + "'", "permission_error", "model_not_allowed",
                   "model");
  ctx.usage.model = model;
  return model;
}

std::string sse_error_event(const ApiError& e, std::string_view event_name) {
  json body = {{"error",
                {{"message", e.what()},
                 {"type", e.type()},
                 {"param", nullptr},
                 {"code", e.code().empty() ? json(nullptr) : json(e.code())}}}};
  std::string out;
  if (!event_name.empty()) out.append("event: ").append(event_name).append("\n");
  return out + "data: " + body.dump() + "\n\n";
}

void Held::add(std::string_view data, std::size_t text_chars, std::string_view name) {
  // Room for a read's worth of events at once (the string would grow
  // through 8 sizes to hold a typical 4 KiB burst); gone after the write.
  if (bytes.empty()) bytes.reserve(4096);
  if (!name.empty()) bytes.append("event: ").append(name).append("\n");
  bytes.append("data: ").append(data).append("\n\n");
  chars += text_chars;
}

http::Awaitable<void> Held::flush(http::StreamSink& sink) {
  if (bytes.empty()) {
    co_await sink.flush();  // the head, if nothing took it along yet
    co_return;
  }
  std::string out;
  out.swap(bytes);
  const std::size_t n = chars;
  chars = 0;
  co_await sink.write(out);
  sent_chars += n;  // counted once it really went to the client
}

http::Awaitable<bool> end_stream(http::StreamSink& sink, Held& held, std::string last) {
  std::string out;
  out.swap(held.bytes);
  out.append(last);
  try {
    co_await sink.end(out);
  } catch (const boost::system::system_error&) {
    co_return false;
  }
  held.sent_chars += held.chars;
  held.chars = 0;
  co_return true;
}

void record_token_counts(http::Context& ctx, std::string_view usage, std::string_view prompt_key,
                         std::string_view completion_key) {
  long prompt = 0, completion = 0;
  json_scan::scan(usage, [&](const json_scan::Member& m) {
    if (m.kind != json_scan::Kind::number) return;
    if (m.key_is(prompt_key)) {
      if (auto v = json_scan::as_int64(m.value)) prompt = static_cast<long>(*v);
    } else if (m.key_is(completion_key)) {
      if (auto v = json_scan::as_int64(m.value)) completion = static_cast<long>(*v);
    }
  });
  // A negative count from a broken upstream would credit the key's budget.
  ctx.usage.prompt_tokens = std::max(0L, prompt);
  ctx.usage.completion_tokens = std::max(0L, completion);
}

http::Response stream_head(const http::Context& ctx) {
  http::Response head{http::Status::ok, 11};
  head.set(http::Field::content_type, "text/event-stream");
  head.set(http::Field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");
  if (!ctx.usage.upstream.empty()) head.set("X-Osprey-Upstream", ctx.usage.upstream);
  for (const auto& [k, v] : ctx.response_headers) head.set(k, v);
  return head;
}

http::Response upstream_response(const http::Context& ctx, gateway::UpstreamReply&& r) {
  auto res = http::make_response(ctx, r.status, std::move(r.body), "application/json");
  if (!ctx.usage.upstream.empty()) res.set("X-Osprey-Upstream", ctx.usage.upstream);
  return res;
}

}  // namespace osprey::api::relay
