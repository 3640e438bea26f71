#pragma once
// Gateway: Osprey's client for an OpenAI-compatible upstream. It holds the
// server-side API keys, a keep-alive connection pool, and the retry policy;
// it turns every upstream failure into an OpenAI-shaped ApiError.
//
//   gateway::Gateway gw(cfg.gateway);            // once, at startup
//   // in a handler (any I/O thread; see connection.hpp):
//   auto reply = co_await gw.request_json(Verb::post, "/embeddings", body, ctx.cancellation);
//   auto result = co_await gw.stream("/chat/completions", body, ctx.cancellation, callbacks);
//
// Requests: `path` is relative to GatewayConfig::base_url; the body is sent
// as is with `Authorization: Bearer <server key>` (no header of the client
// is ever forwarded).
//
// Retries (attempts bounded by max_attempts and the whole call by
// retry_max_total_ms): connect failures, timeouts, 429 and 5xx, with
// exponential backoff + full jitter from retry_base_ms, never shorter than the
// upstream's Retry-After / retry-after-ms. With several keys, a 401 or 429
// rests that key and the next attempt uses another at once. A stream is
// never retried once its first byte went to the client.
//
// Timeouts: connect_timeout_ms (TCP + TLS handshake), first_byte_timeout_ms
// (request sent -> response header), idle_timeout_ms (between body reads).
// Bodies over max_response_bytes are refused (502).
//
// Cancellation: when ctx.cancellation fires (client gone), the upstream
// socket is closed at once and the call ends with ApiError 499.
//
// Errors thrown (ApiError, OpenAI shape):
//   upstream 4xx/5xx      same status; message/type/code/param from the
//                         upstream's JSON error when it has one (secrets redacted)
//   unreachable           502 api_error upstream_unreachable
//   timeout               504 api_error upstream_timeout
//   malformed / too large 502 api_error upstream_invalid_response / upstream_response_too_large
//   no key configured     503 api_error upstream_not_configured

#include <utility>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "common/error.hpp"
#include "config/config.hpp"
#include "gateway/base_url.hpp"
#include "gateway/connection.hpp"
#include "gateway/key_ring.hpp"
#include "http/context.hpp"
#include "http/message.hpp"

namespace osprey::gateway {

struct UpstreamReply {
  unsigned status = 0;
  std::string body;          // validated JSON
  std::string content_type;
};

// What stream() calls while relaying. on_open runs once, when the upstream
// answered 200 (begin the client's response there); on_event once per SSE
// event, in order, before the next byte is read from the upstream; an
// exception from any of them (client gone) closes the upstream and
// propagates. on_event is a plain call, not a coroutine: it runs for every
// token of every stream, so it only looks at the event and keeps what it
// relays (`data` is gone after it returns); writing is on_flush's.
//
// on_flush (optional) runs after the events completed by one upstream read
// were all given to on_event: a caller that buffers in on_event writes
// there, so events that arrived together leave in one write, and none waits
// for the next read. Not after the read that brought [DONE] or completed
// the upstream's body, unless the rest of the body must still be waited
// for: stream() then returns without another wait, and the caller writes
// what it holds together with the end of its response (one write, not
// three). It also runs after on_open when no complete event came with the
// upstream's head, before the wait for the first one: a caller whose
// on_open only holds its response head (StreamSink::begin) sends it there.
// So when the upstream's head and events arrive together, the client gets
// head, events and end in one write.
//
// on_named_event, when set, is called instead of on_event with the event's
// "event:" field too (empty when it had none): the Responses API types its
// events that way.
struct StreamCallbacks {
  std::function<http::Awaitable<void>()> on_open;
  std::function<void(std::string_view data)> on_event;
  std::function<void(std::string_view event, std::string_view data)> on_named_event;
  std::function<http::Awaitable<void>()> on_flush;
};

struct StreamResult {
  bool done = false;                 // upstream sent [DONE] or ended cleanly
  std::optional<ApiError> error;     // set when the stream broke after on_open
};

// Reads the upstream keys again from their source (environment, NAME_FILE,
// .env, a key file); throws on an unreadable source (the keys in use stay).
using KeyLoader = std::function<std::vector<std::string>()>;

class Gateway {
 public:
  // `reload`, when given, is called every cfg.key_refresh_ms (on the next
  // request after that time, by one thread) and a changed list replaces
  // the keys: rotating a mounted secret needs no restart.
  explicit Gateway(config::GatewayConfig cfg, KeyLoader reload = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  const config::GatewayConfig& config() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  // False when a key is required and none is configured (requests get 503).
  bool has_keys() { return !cfg_.key_required || !keys()->empty(); }
  // The keys now (re-read first when due); a request keeps the ring it took.
  std::shared_ptr<KeyRing> keys();

  // `body` must stay alive until the call completes (the request's own
  // body, usually: it is sent from where it is, not copied).
  http::Awaitable<UpstreamReply> request_json(http::Verb verb, std::string_view path, std::string_view body,
                                              std::shared_ptr<http::Cancellation> cancel);

  // Before on_open, failures throw ApiError like request_json (after
  // retries). After it, they end the call with StreamResult::error set.
  http::Awaitable<StreamResult> stream(std::string_view path, std::string body,
                                       std::shared_ptr<http::Cancellation> cancel, const StreamCallbacks& cb);

  // GET {base}/models, cached for models_cache_ms (per process).
  http::Awaitable<UpstreamReply> models(std::shared_ptr<http::Cancellation> cancel);

  // Replaces any configured key, present or retired, in `text` by [REDACTED].
  std::string redact(std::string_view text);
  // Whether `text` contains such a key (then redact() it).
  bool echoes_key(std::string_view text);

  std::size_t idle_connections() const { return pool_.idle(); }

  // Closes the pooled keep-alive connections. Their sockets belong to the
  // server's io_contexts: call this after the server stopped and before it
  // is destroyed (or destroy the Gateway first).
  void drop_idle_connections() { pool_.clear(); }

  struct Exchange;  // one attempt (exchange.hpp)

 private:
  http::Awaitable<std::shared_ptr<Connection>> connect(Exchange& x);
  http::Awaitable<void> attempt(Exchange& x, const StreamCallbacks* cb);
  // One request and its answer on `c` (exchange.cpp; S: the plain or the TLS stream).
  template <class S>
  http::Awaitable<void> exchange(S& s, Connection& c, Exchange& x, const StreamCallbacks* cb);
  http::Awaitable<void> run(Exchange& x, const StreamCallbacks* cb);
  ApiError to_error(const Exchange& x) const;
  void refresh_keys();
  // How a relayed stream ended (not a coroutine: its temporaries stay out of
  // the frame every open stream carries).
  StreamResult stream_result(const Exchange& x) const;

  config::GatewayConfig cfg_;
  BaseUrl url_;
  std::string host_header_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  KeyLoader reload_;
  std::mutex keys_mu_;
  std::shared_ptr<KeyRing> keys_;
  std::atomic<long long> next_refresh_ms_{0};
  ConnectionPool pool_;

  std::mutex models_mu_;
  std::optional<UpstreamReply> models_cache_;
  std::chrono::steady_clock::time_point models_cached_at_{};
};

}  // namespace osprey::gateway
