#include "gateway/gateway.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "gateway/exchange.hpp"
#include "gateway/retry.hpp"
#include "gateway/upstream_error.hpp"
#include "metrics/registry.hpp"

namespace osprey::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

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

}  // namespace

Gateway::Gateway(config::GatewayConfig cfg, KeyLoader reload)
    : cfg_(std::move(cfg)),
      url_(BaseUrl::parse(cfg_.base_url)),
      host_header_(url_.host_header()),
      reload_(std::move(reload)),
      keys_(std::make_shared<KeyRing>(cfg_.api_keys)),
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

bool Gateway::echoes_key(std::string_view text) { return keys()->echoed_in(text); }

std::string Gateway::redact(std::string_view text) { return keys()->redact(text); }

std::shared_ptr<KeyRing> Gateway::keys() {
  if (reload_ && cfg_.key_refresh_ms > 0) {
    const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    long long due = next_refresh_ms_.load(std::memory_order_relaxed);
    // One thread re-reads; the others go on with the keys they have.
    if (now >= due && next_refresh_ms_.compare_exchange_strong(due, now + cfg_.key_refresh_ms)) refresh_keys();
  }
  std::lock_guard lock(keys_mu_);
  return keys_;
}

void Gateway::refresh_keys() {
  std::vector<std::string> fresh;
  try {
    fresh = reload_();
  } catch (const std::exception& e) {
    // A secret file being replaced can be missing for a moment: keep the
    // keys in use, say why (the message names the source, never a value).
    spdlog::warn("upstream {}: keys not re-read, the ones in use stay: {}", cfg_.name, e.what());
    return;
  }
  std::lock_guard lock(keys_mu_);
  if (fresh == keys_->keys()) return;
  for (const auto& k : fresh) log::register_secret(k);
  spdlog::info("upstream {}: keys re-read from their source ({} now, {} before)", cfg_.name, fresh.size(),
               keys_->size());
  keys_ = std::make_shared<KeyRing>(std::move(fresh), keys_->secrets());
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
      return map_upstream_error(x.status, x.ring ? x.ring->redact(x.body_out) : x.body_out, x.retry_after);
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
  x.ring = keys();
  KeyRing& keys = *x.ring;
  if (keys.empty() && cfg_.key_required) {
    throw ApiError(503,
                   "the gateway has no API key for upstream '" + cfg_.name +
                       "': set OPENAI_API_KEY (or OPENAI_API_KEY_FILE, an entry in the .env file, or gateway.api_keys "
                       "in the config file, optionally enc: sealed with `osprey secrets encrypt`; an [[upstreams]] "
                       "entry has its own api_key, api_key_env or api_key_file). Keys are read again every "
                       "gateway.key_refresh_ms: no restart needed",
                   "api_error", "upstream_not_configured");
  }
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::milliseconds(cfg_.retry_max_total_ms);
  const int max_attempts = std::max(1, cfg_.max_attempts);
  bool stale_retry_used = false;
  for (int attempt = 1;; ++attempt) {
    x.reset();
    x.key_index = keys.pick();
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
    else if (x.fail == Fail::none && x.status == 401 && keys.size() > 1) reason = "401";
    errors_total(x.fail == Fail::none ? (x.status >= 500 ? "5xx" : x.status == 429 ? "429" : "4xx") : fail_kind(x.fail)).inc();
    if (reason.empty() || attempt >= max_attempts) break;

    auto hint = parse_retry_hint(x.retry_after, x.retry_after_ms);
    std::chrono::milliseconds wait{0};
    if ((x.status == 429 || x.status == 401) && keys.size() > 1) {
      // Failover: rest this key, the next attempt picks another one at once.
      keys.rest(x.key_index, x.status == 401 ? std::chrono::milliseconds(60'000) : hint.value_or(std::chrono::milliseconds(1000)));
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
  if (x.ring->echoed_in(r.body)) r.body = x.ring->redact(r.body);
  co_return r;
}

StreamResult Gateway::stream_result(const Exchange& x) const {
  if (!x.opened) {
    // A 2xx other than 200 to a streaming request: nothing we can relay.
    throw ApiError(502, "upstream answered HTTP " + std::to_string(x.status) + " to a streaming request", "api_error",
                   "upstream_invalid_response");
  }
  StreamResult r;
  r.done = x.done && x.fail == Fail::none;
  if (x.fail != Fail::none) {
    ApiError e = to_error(x);
    r.error = ApiError(e.status(), "upstream stream interrupted: " + std::string(e.what()), "api_error",
                       x.fail == Fail::timeout ? "upstream_timeout" : "upstream_stream_interrupted");
  }
  return r;
}

http::Awaitable<StreamResult> Gateway::stream(std::string_view path, std::string body,
                                              std::shared_ptr<http::Cancellation> cancel, const StreamCallbacks& cb) {
  Exchange x;
  x.verb = http::Verb::post;
  x.target = url_.target(path);
  x.body = body;
  x.cancel = std::move(cancel);
  co_await run(x, &cb);
  co_return stream_result(x);
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
