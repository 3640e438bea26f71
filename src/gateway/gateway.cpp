#include "gateway/gateway.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "gateway/event_relay.hpp"
#include "gateway/request_head.hpp"
#include "gateway/retry.hpp"
#include "gateway/upstream_error.hpp"
#include "gateway/upstream_parser.hpp"
#include "http/nonblocking.hpp"
#include "http/thread_load.hpp"
#include "metrics/registry.hpp"

namespace osprey::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

enum class Fail { none, unreachable, reset, timeout, too_large, invalid, cancelled };

struct Gateway::Exchange {
  // Request.
  http::Verb verb = http::Verb::post;
  std::string target;
  std::string_view body;  // alive for the whole call (the caller's)
  std::shared_ptr<http::Cancellation> cancel;
  std::size_t key_index = 0;
  // Result of the last attempt.
  Fail fail = Fail::none;
  std::string detail;  // what failed, for the error message (no secrets)
  bool reused = false;
  bool header_received = false;
  bool opened = false;  // stream: on_open ran, bytes may have reached the client
  bool done = false;
  bool keep_alive = false;
  unsigned status = 0;
  std::string body_out, content_type, retry_after, retry_after_ms;
  std::exception_ptr callback_error;

  void reset() {
    fail = Fail::none;
    detail.clear();
    reused = header_received = opened = done = keep_alive = false;
    status = 0;
    body_out.clear();
    content_type.clear();
    retry_after.clear();
    retry_after_ms.clear();
    callback_error = nullptr;
  }
};

namespace {

// --- metrics ---------------------------------------------------------------

metrics::Counter& requests_total(const std::string& status) {
  thread_local std::unordered_map<std::string, metrics::Counter*> cache;
  auto& c = cache[status];
  if (!c) c = &metrics::Registry::global().counter("osprey_upstream_requests_total", "Upstream HTTP requests by status ('error' when no response)", {{"status", status}});
  return *c;
}
metrics::Counter& retries_total(const std::string& reason) {
  return metrics::Registry::global().counter("osprey_upstream_retries_total", "Upstream requests retried, by reason", {{"reason", reason}});
}
metrics::Counter& errors_total(const std::string& kind) {
  return metrics::Registry::global().counter("osprey_upstream_errors_total", "Upstream failures by kind", {{"kind", kind}});
}
metrics::Histogram& latency() {
  static metrics::Histogram& h = metrics::Registry::global().histogram(
      "osprey_upstream_latency_seconds", "Upstream request latency (to the end of the response)");
  return h;
}

const char* fail_kind(Fail f) {
  switch (f) {
    case Fail::unreachable: return "unreachable";
    case Fail::reset: return "reset";
    case Fail::timeout: return "timeout";
    case Fail::too_large: return "too_large";
    case Fail::invalid: return "invalid_response";
    case Fail::cancelled: return "cancelled";
    default: return "none";
  }
}

// Runs `fn` if the client goes away while this object lives (a connection
// leased to the request, a retry's wait), and unregisters it when it goes:
// once the connection is back in the pool, another request's client must
// not be able to close it.
class CancelHook {
 public:
  CancelHook(const std::shared_ptr<http::Cancellation>& cancel, std::function<void()> fn) : cancel_(cancel.get()) {
    if (cancel_) handle_ = cancel_->on_cancel(std::move(fn));
  }
  ~CancelHook() {
    if (cancel_) cancel_->forget(handle_);
  }
  CancelHook(const CancelHook&) = delete;
  CancelHook& operator=(const CancelHook&) = delete;

 private:
  http::Cancellation* cancel_;  // the Exchange's, which outlives the hook
  std::size_t handle_ = 0;
};

// Bodies up to this size are copied behind the request head and sent as one
// buffer; larger ones go out in place, in a gathered write.
constexpr std::size_t kCopyBodyBytes = 16 * 1024;

// What a stream's body is read into. Not a vector<char>: each size it grows
// to would be zero-filled first, to be overwritten by the read.
class RelayBuffer {
 public:
  char* data() { return bytes_.get(); }
  std::size_t size() const { return size_; }
  // Drops the contents.
  void resize(std::size_t n) {
    if (n == size_) return;
    bytes_.reset(n ? new char[n] : nullptr);
    size_ = n;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_ = 0;
};

// Feeds the parser what `buffer` already holds, as Beast's read_some does
// before it reads: true when that was enough (the parser moved on, or
// failed: see `ec`), false when it needs bytes from the socket (then
// read_some parses again with them). Saves an Asio operation (its
// allocation, post and resumption) for an answer that take_arrived() or an
// earlier read brought in whole.
bool parse_buffered(beast::flat_buffer& buffer, UpstreamParser& p, beast::error_code& ec) {
  if (buffer.size() == 0) return false;
  buffer.consume(p.put(buffer.data(), ec));
  if (ec != bhttp::error::need_more) return true;
  ec = {};
  return false;
}

void io_failure(Gateway::Exchange& x, const beast::error_code& ec, const char* what) {
  if (x.cancel && x.cancel->cancelled()) {
    x.fail = Fail::cancelled;
  } else if (ec == beast::error::timeout) {
    x.fail = Fail::timeout;
  } else if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    x.fail = Fail::too_large;
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && ec != bhttp::error::end_of_stream &&
             ec != bhttp::error::partial_message) {
    x.fail = Fail::invalid;  // not HTTP
  } else {
    x.fail = Fail::reset;
  }
  x.detail = std::string(what) + ": " + ec.message();
}
}  // namespace

Gateway::Gateway(config::GatewayConfig cfg)
    : cfg_(std::move(cfg)),
      url_(BaseUrl::parse(cfg_.base_url)),
      host_header_(url_.host_header()),
      keys_(cfg_.api_keys),
      pool_(static_cast<std::size_t>(std::max(0, cfg_.pool_size)),
            std::chrono::milliseconds(std::min(cfg_.idle_timeout_ms, 30'000))) {
  for (const auto& k : cfg_.api_keys) log::register_secret(k);
  if (url_.tls) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_->set_default_verify_paths();
    if (!cfg_.ca_file.empty()) tls_->load_verify_file(cfg_.ca_file);  // throws if unreadable: a config error
    tls_->set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
  }
}

Gateway::~Gateway() = default;

bool Gateway::echoes_key(std::string_view text) const {
  for (const auto& k : keys_.keys())
    if (k.size() >= 6 && str::contains(text, k)) return true;
  return false;
}

std::string Gateway::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& k : keys_.keys()) {
    if (k.size() < 6) continue;
    for (auto pos = out.find(k); pos != std::string::npos; pos = out.find(k, pos)) out.replace(pos, k.size(), "[REDACTED]");
  }
  return out;
}

http::Awaitable<std::shared_ptr<Connection>> Gateway::connect(Exchange& x) {
  auto ex = co_await asio::this_coro::executor;
  if (auto c = pool_.take(ex)) {
    x.reused = true;
    co_return c;
  }
  auto c = std::make_shared<Connection>(ex, tls_.get());
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(ex);
  auto results = co_await resolver.async_resolve(url_.host, url_.port, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    x.fail = Fail::unreachable;
    x.detail = "cannot resolve " + url_.host + ": " + ec.message();
    co_return nullptr;
  }
  CancelHook hook(x.cancel, [conn = c.get()] { conn->close(); });
  c->tcp().expires_after(std::chrono::milliseconds(cfg_.connect_timeout_ms));
  co_await c->tcp().async_connect(results, asio::redirect_error(use_awaitable, ec));
  if (!ec) {
    c->tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);
    // exchange() sends small requests with a write that must not block.
    c->tcp().socket().non_blocking(true, ec);
    ec = {};
  }
  if (!ec && c->tls) {
    SSL* ssl = c->tls->native_handle();
    if (url_.host_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url_.host.c_str());  // SNI
      SSL_set1_host(ssl, url_.host.c_str());             // certificate must name this host
    }
    co_await c->tls->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
    if (ec && ec != beast::error::timeout && !(x.cancel && x.cancel->cancelled())) {
      x.fail = Fail::unreachable;
      x.detail = "TLS handshake with " + url_.host + " failed: " + ec.message();
      co_return nullptr;
    }
  }
  if (ec) {
    if (x.cancel && x.cancel->cancelled()) {
      x.fail = Fail::cancelled;
    } else {
      x.fail = ec == beast::error::timeout ? Fail::timeout : Fail::unreachable;
      x.detail = "cannot connect to " + url_.host_header() + ": " + ec.message();
    }
    co_return nullptr;
  }
  co_return c;
}

template <class S>
http::Awaitable<void> Gateway::exchange(S& s, Connection& c, Exchange& x, const StreamCallbacks* cb) {
  beast::error_code ec;
  // Each wait on the socket below sets its own deadline first: the stream's
  // timer still holds the last one (this connection's previous request).
  {
    // The head formatted by hand (Beast's serializer cost more than the
    // socket call); a small body rides in the same buffer. Scoped: freed
    // once sent, not kept for as long as a stream runs.
    std::string out;
    const bool with_body = x.verb != http::Verb::get || !x.body.empty();
    const std::size_t body_bytes = with_body ? x.body.size() : 0;
    const bool copy_body = body_bytes <= kCopyBodyBytes;
    out.reserve(256 + (copy_body ? body_bytes : 0));
    format_request_head(out, x.verb, x.target, host_header_, keys_.key(x.key_index),
                        cb ? "text/event-stream" : "application/json", with_body, body_bytes);
    if (copy_body && with_body) out.append(x.body);
    std::array<asio::const_buffer, 2> parts{asio::buffer(out),
                                            copy_body ? asio::const_buffer() : asio::buffer(x.body)};
    std::size_t sent = 0;
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
      // Plain TCP: the request nearly always fits the socket's send buffer,
      // so send it now rather than through an async write, whose completion
      // is posted and resumes this coroutine through the scheduler.
      sent = http::send_now(c.tcp().socket(), parts, ec);
    }
    const std::size_t total = out.size() + (copy_body ? 0 : body_bytes);
    if (!ec && sent < total) {
      beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(parts);
      rest.consume(sent);
      c.tcp().expires_after(std::chrono::milliseconds(cfg_.first_byte_timeout_ms));
      co_await asio::async_write(s, rest, asio::redirect_error(use_awaitable, ec));
    }
  }
  if (ec) co_return io_failure(x, ec, "sending the request");

  UpstreamParser p;
  p.header_limit(64 * 1024);
  p.body_limit(cfg_.max_response_bytes);
  // The answer takes a round trip: with other requests in flight, let the
  // loop run them first rather than try a read that finds nothing (see
  // http/thread_load.hpp).
  const bool yielded = http::others_in_flight(1);
  if (yielded) co_await asio::post(c.executor, use_awaitable);
  // Beast sizes each read by the buffer's free capacity (at least 512
  // bytes): room for a whole typical JSON answer (head and body) makes it
  // one read rather than two. A stream takes a burst's worth (see relay_buf
  // below) when its answer has already arrived: a fast upstream sends its
  // head and the first events, or all of a short answer, at once. Not to
  // wait with that room: 10k streams waiting for their upstreams' heads
  // would hold 16 KiB each. The room is given back below once the buffered
  // bytes are consumed, so a stream that waits for its next event holds
  // none of it.
  //
  // take_arrived() reads the socket itself, so Beast then parses from the
  // buffer without an Asio read operation (its try, its completion, the
  // stream's timer): for a stream always (it replaces a FIONREAD), for a
  // JSON answer on plain TCP when the post above gave it time to arrive.
  // Alone on the thread the answer is not there yet, and Asio's own try
  // would follow a failed one.
  constexpr std::size_t kAnswerRoom = 4096;
  constexpr std::size_t kRelayIdle = 1024, kRelayBurst = 16 * 1024;
  if (cb) {
    c.take_arrived(kRelayBurst);
  } else if (!(yielded && !c.tls && c.take_arrived(kAnswerRoom)) && c.buffer.capacity() - c.buffer.size() < kAnswerRoom) {
    c.buffer.reserve(c.buffer.size() + kAnswerRoom);
  }
  if (!parse_buffered(c.buffer, p, ec) || (!ec && !p.is_header_done())) {
    c.tcp().expires_after(std::chrono::milliseconds(cfg_.first_byte_timeout_ms));
    co_await bhttp::async_read_header(s, c.buffer, p, asio::redirect_error(use_awaitable, ec));
  }
  if (ec) co_return io_failure(x, ec, "waiting for the response");
  x.header_received = true;
  x.status = p.status;
  x.content_type = std::move(p.content_type);
  x.retry_after = std::move(p.retry_after);
  x.retry_after_ms = std::move(p.retry_after_ms);
  const bool relay = cb && x.status == 200;
  if (relay) {
    try {
      co_await cb->on_open();
    } catch (...) {
      x.callback_error = std::current_exception();
      c.close();
      co_return;
    }
    x.opened = true;
    // Only the head came: the stream waits with as little memory as it can.
    if (c.buffer.size() == 0) c.buffer.shrink_to_fit();
  }

  std::optional<EventRelay> events;
  if (relay) events.emplace(*this, *cb, cfg_.max_response_bytes);
  // A relayed stream may stay open for minutes (10k of them): while it waits
  // for the next event its buffers are small (1 KiB, and the connection's
  // read buffer released). When a read fills the buffer, more is probably
  // waiting (a burst): the next read gets 16 KiB, and one socket read and
  // one client write carry many events; events that came with the head are
  // taken in one go. A JSON answer is read straight into body_out, which it
  // ends up in anyway (no buffer, no copy).
  RelayBuffer relay_buf;
  if (relay) relay_buf.resize(std::clamp<std::size_t>(c.buffer.size(), kRelayIdle, kRelayBurst));
  constexpr std::size_t kJsonStep = 4096, kJsonMaxStep = 64 * 1024;
  // Held events go out before any wait on the socket: only the end of the
  // body, when it has already arrived (a chunked body's last chunk), is
  // read before them. So does what on_open held (the client's response
  // head), when no event came with it (gateway.hpp).
  bool held = false;
  bool unflushed = relay && cb->on_flush;
  auto flush = [&]() -> http::Awaitable<bool> {
    held = false;
    unflushed = false;
    try {
      co_await cb->on_flush();
    } catch (...) {
      x.callback_error = std::current_exception();
      c.close();
      co_return false;
    }
    co_return true;
  };
  while (!p.is_done()) {
    if ((held || unflushed) && !c.more_arrived() && !co_await flush()) co_return;
    const bool from_buffer = c.buffer.size() > 0;
    std::size_t had = x.body_out.size();
    std::size_t room = relay_buf.size();
    if (relay) {
      p.body_data = relay_buf.data();
    } else {
      // A Content-Length says how much is coming: size the body for it
      // (resize zero-fills what it adds, so not 4 KiB for a 600-byte answer).
      room = kJsonStep;
      if (auto left = p.content_length_remaining(); left && *left > 0) room = std::min<std::uint64_t>(*left, kJsonMaxStep);
      x.body_out.resize(had + room);
      p.body_data = x.body_out.data() + had;
    }
    p.body_room = room;
    // Beast reads at most max(512, the buffer's free room) bytes at once.
    const std::size_t read_room = std::max<std::size_t>(512, c.buffer.capacity() - c.buffer.size());
    // What a socket read brought (it counts below only when the buffer was
    // empty, so the buffered parse needs none).
    std::size_t raw = 0;
    if (!parse_buffered(c.buffer, p, ec)) {
      c.tcp().expires_after(std::chrono::milliseconds(cfg_.idle_timeout_ms));
      raw = co_await bhttp::async_read_some(s, c.buffer, p, asio::redirect_error(use_awaitable, ec));
    }
    const std::size_t n = room - p.body_room;
    if (!relay) x.body_out.resize(had + n);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return io_failure(x, ec, "reading the response");
    if (!relay) continue;  // body_out: bounded by body_limit
    // A burst: the relay buffer or the socket read came back full, so more is
    // probably waiting (the read's room is small while a stream idles). Not
    // the bytes that came with the head: relay_buf was sized to take them
    // at once, and they say nothing of what follows (10k streams opening
    // together must not each grow their buffers).
    const bool burst = n == room || (!from_buffer && raw >= read_room);
    if (n == 0) continue;
    std::size_t completed = 0;
    try {
      completed = events->feed(std::string_view(relay_buf.data(), n));
    } catch (const std::length_error&) {
      x.fail = Fail::too_large;
      x.detail = "an upstream SSE event exceeds gateway.max_response_bytes";
      c.close();
      co_return;
    }
    x.done = events->done();
    if (events->error()) {
      x.callback_error = events->error();
      c.close();
      co_return;
    }
    // The events that came with [DONE] or the body's end are held for the
    // caller, which writes them with the end of its response (gateway.hpp).
    if (completed > 0 && cb->on_flush) {
      held = x.done || p.is_done();
      if (!held && !co_await flush()) co_return;
    }
    if (burst && relay_buf.size() < kRelayBurst) {
      relay_buf.resize(kRelayBurst);
      c.buffer.reserve(kRelayBurst);
    } else if (!burst) {
      if (relay_buf.size() > kRelayIdle) relay_buf.resize(kRelayIdle);
      // Also the room of the read that brought the head (and events with
      // it); what it may still hold is a few bytes of chunk framing.
      if (c.buffer.capacity() > kRelayIdle) c.buffer.shrink_to_fit();
    }
  }
  if (relay) x.done = true;  // a clean end of body counts as the end of the stream
  x.keep_alive = p.keep_alive();
}

http::Awaitable<void> Gateway::attempt(Exchange& x, const StreamCallbacks* cb) {
  auto c = co_await connect(x);
  if (!c) co_return;
  // For as long as this request holds the connection.
  std::optional<CancelHook> hook;
  hook.emplace(x.cancel, [conn = c.get()] { conn->close(); });
  if (x.cancel && x.cancel->cancelled()) {
    x.fail = Fail::cancelled;
    c->close();
    co_return;
  }
  if (c->tls) {
    co_await exchange(*c->tls, *c, x, cb);
  } else {
    co_await exchange(*c->plain, *c, x, cb);
  }
  if (x.fail == Fail::none && !x.callback_error && x.keep_alive && c->tcp().socket().is_open()) {
    hook.reset();
    pool_.give_back(std::move(c));
  } else {
    c->close();
  }
}

ApiError Gateway::to_error(const Exchange& x) const {
  switch (x.fail) {
    case Fail::none:
      return map_upstream_error(x.status, redact(x.body_out), x.retry_after);
    case Fail::timeout:
      return ApiError(504, "upstream timed out (" + x.detail + ")", "api_error", "upstream_timeout");
    case Fail::too_large:
      return ApiError(502, "upstream response exceeds the gateway limit of " + std::to_string(cfg_.max_response_bytes) + " bytes",
                      "api_error", "upstream_response_too_large");
    case Fail::invalid:
      return ApiError(502, "upstream sent an invalid HTTP response (" + x.detail + ")", "api_error", "upstream_invalid_response");
    case Fail::cancelled:
      return ApiError(499, "client closed the request", "api_error", "client_closed_request");
    case Fail::unreachable:
    case Fail::reset:
    default:
      return ApiError(502, "upstream unreachable (" + x.detail + ")", "api_error", "upstream_unreachable");
  }
}

http::Awaitable<void> Gateway::run(Exchange& x, const StreamCallbacks* cb) {
  if (keys_.empty()) {
    throw ApiError(503,
                   "the gateway has no upstream API key: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE, an entry in the "
                   ".env file, or gateway.api_keys in the config file, optionally enc: sealed with `osprey secrets "
                   "encrypt`) and restart",
                   "api_error", "upstream_not_configured");
  }
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::milliseconds(cfg_.retry_max_total_ms);
  const int max_attempts = std::max(1, cfg_.max_attempts);
  bool stale_retry_used = false;
  for (int attempt = 1;; ++attempt) {
    x.reset();
    x.key_index = keys_.pick();
    const auto t0 = Clock::now();
    co_await this->attempt(x, cb);
    if (x.callback_error) std::rethrow_exception(x.callback_error);
    if (x.fail == Fail::cancelled || (x.cancel && x.cancel->cancelled())) {
      errors_total("cancelled").inc();
      x.fail = Fail::cancelled;
      throw to_error(x);
    }
    // An idle pooled connection the upstream had closed: try once more on a
    // fresh one, without counting it as an attempt.
    if (x.fail != Fail::none && x.reused && !x.header_received && !stale_retry_used) {
      stale_retry_used = true;
      --attempt;
      continue;
    }
    latency().observe(std::chrono::duration<double>(Clock::now() - t0).count());
    requests_total(x.fail == Fail::none ? std::to_string(x.status) : "error").inc();
    if (x.opened) co_return;  // bytes went to the client: never retried
    if (x.fail == Fail::none && x.status >= 200 && x.status < 300) co_return;

    std::string reason;
    if (x.fail == Fail::unreachable) reason = "connect";
    else if (x.fail == Fail::timeout) reason = "timeout";
    else if (x.fail == Fail::reset) reason = "reset";
    else if (x.fail == Fail::none && x.status == 429) reason = "429";
    else if (x.fail == Fail::none && x.status >= 500) reason = "5xx";
    else if (x.fail == Fail::none && x.status == 401 && keys_.size() > 1) reason = "401";
    errors_total(x.fail == Fail::none ? (x.status >= 500 ? "5xx" : x.status == 429 ? "429" : "4xx") : fail_kind(x.fail)).inc();
    if (reason.empty() || attempt >= max_attempts) break;

    auto hint = parse_retry_hint(x.retry_after, x.retry_after_ms);
    std::chrono::milliseconds wait{0};
    if ((x.status == 429 || x.status == 401) && keys_.size() > 1) {
      // Failover: rest this key, the next attempt picks another one at once.
      keys_.rest(x.key_index, x.status == 401 ? std::chrono::milliseconds(60'000) : hint.value_or(std::chrono::milliseconds(1000)));
    } else {
      wait = backoff_delay(attempt, std::chrono::milliseconds(cfg_.retry_base_ms), std::chrono::milliseconds(8000));
      if (hint && *hint > wait) wait = *hint;
    }
    if (Clock::now() + wait > deadline) break;  // would overrun the total budget: answer now
    retries_total(reason).inc();
    spdlog::debug("upstream attempt {} failed ({}), retrying in {} ms", attempt,
                  x.fail == Fail::none ? "HTTP " + std::to_string(x.status) : x.detail, wait.count());
    if (wait.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      CancelHook hook(x.cancel, [t = &timer] { t->cancel(); });
      beast::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
  throw to_error(x);
}

http::Awaitable<UpstreamReply> Gateway::request_json(http::Verb verb, std::string_view path, std::string_view body,
                                                     std::shared_ptr<http::Cancellation> cancel) {
  Exchange x;
  x.verb = verb;
  x.target = url_.target(path);
  x.body = body;
  x.cancel = std::move(cancel);
  co_await run(x, nullptr);
  UpstreamReply r;
  r.status = x.status;
  r.content_type = std::move(x.content_type);
  r.body = std::move(x.body_out);
  if (echoes_key(r.body)) r.body = redact(r.body);
  co_return r;
}

http::Awaitable<StreamResult> Gateway::stream(std::string_view path, std::string body,
                                              std::shared_ptr<http::Cancellation> cancel, const StreamCallbacks& cb) {
  Exchange x;
  x.verb = http::Verb::post;
  x.target = url_.target(path);
  x.body = body;
  x.cancel = std::move(cancel);
  co_await run(x, &cb);
  StreamResult r;
  if (!x.opened) {
    // A 2xx other than 200 to a streaming request: nothing we can relay.
    throw ApiError(502, "upstream answered HTTP " + std::to_string(x.status) + " to a streaming request", "api_error",
                   "upstream_invalid_response");
  }
  r.done = x.done && x.fail == Fail::none;
  if (x.fail != Fail::none) {
    ApiError e = to_error(x);
    r.error = ApiError(e.status(), "upstream stream interrupted: " + std::string(e.what()), "api_error",
                       x.fail == Fail::timeout ? "upstream_timeout" : "upstream_stream_interrupted");
  }
  co_return r;
}

http::Awaitable<UpstreamReply> Gateway::models(std::shared_ptr<http::Cancellation> cancel) {
  {
    std::lock_guard lock(models_mu_);
    if (models_cache_ && Clock::now() - models_cached_at_ < std::chrono::milliseconds(cfg_.models_cache_ms)) {
      co_return *models_cache_;
    }
  }
  auto r = co_await request_json(http::Verb::get, "/models", std::string_view(), std::move(cancel));
  std::lock_guard lock(models_mu_);
  models_cache_ = r;
  models_cached_at_ = Clock::now();
  co_return r;
}

}  // namespace osprey::gateway
