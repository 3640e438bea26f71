#pragma once
// What the gateway routes (chat_routes.cpp, responses_routes.cpp,
// describe_route.cpp) share: request checks, token metrics, and the end of
// a relayed stream.
//
//   std::string model = api::relay::checked_model(ctx, scan.model);  // 400/403 like OpenAI
//   api::relay::count_tokens(model, prompt, completion);             // osprey_tokens_total
//   co_await api::relay::end_stream(*ctx.stream, pending, "data: [DONE]\n\n");

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/json_scan.hpp"
#include "gateway/gateway.hpp"
#include "http/context.hpp"
#include "http/response.hpp"

namespace osprey::api::relay {

// osprey_tokens_total{model,kind}. Only models an upstream accepted get
// here, so a client cannot create series with made-up names.
void count_tokens(const std::string& model, long prompt, long completion);

// Where nlohmann's parser stops on an invalid document (for the 400 message).
std::size_t json_error_byte(std::string_view text);

// The "model" member of a request, checked as OpenAI does (400 missing or
// not a non-empty string) and against the key's allowed models (403); it is
// also ctx.usage.model.
std::string checked_model(http::Context& ctx, const std::optional<json_scan::Member>& model);

// An OpenAI-shaped error as one SSE event ("data: {...}\n\n"), with the
// given event name line first when not empty.
std::string sse_error_event(const ApiError& e, std::string_view event_name = {});

// What a relayed stream holds between StreamCallbacks::on_event and
// on_flush: the bytes for the client (events that arrived in one upstream
// read leave in one write) and the text characters among them, which count
// as sent (`sent_chars`, for a token estimate when the upstream never
// reports usage) only once written.
struct Held {
  std::string bytes;
  std::size_t chars = 0;
  std::size_t sent_chars = 0;

  // One event: "event: NAME\n" when `name` is not empty, then "data: ...".
  void add(std::string_view data, std::size_t text_chars, std::string_view name = {});
  // on_flush: writes what is held, or sends the response head alone.
  http::Awaitable<void> flush(http::StreamSink& sink);
};

// The end of a relayed stream: what is still held, then `last`, and the end
// of the response, in one write. False if the client had gone.
http::Awaitable<bool> end_stream(http::StreamSink& sink, Held& held, std::string last);

// usage counts of a usage object (raw JSON text, as json_scan reports it)
// into ctx.usage.{prompt,completion}_tokens; a count missing or not an
// integer is 0. Chat names them prompt_tokens / completion_tokens, the
// Responses API input_tokens / output_tokens.
void record_token_counts(http::Context& ctx, std::string_view usage, std::string_view prompt_key = "prompt_tokens",
                         std::string_view completion_key = "completion_tokens");

// The SSE response head every relayed stream starts with (plus the
// middleware's headers, e.g. rate-limit ones).
http::Response stream_head(const http::Context& ctx);

// The upstream's JSON answer, as it came, with the served-by header.
http::Response upstream_response(const http::Context& ctx, gateway::UpstreamReply&& r);

}  // namespace osprey::api::relay
