#pragma once
// Limiter: per-key rate limits and budgets, checked before a request runs
// and charged after it ran.
//
//   auto adm = co_await limiter.admit(key_id, limits, request_id, checks, now);
//   if (!adm.allowed) -> 429, Retry-After = retry_after_seconds(adm.denied_by, adm.counters)
//   ... run the handler ...
//   auto c = co_await limiter.settle(key_id, limits, request_id, {tokens, images, usd}, now);
//
// Windows are fixed and aligned to UTC: requests/tokens/images per calendar
// minute, tokens per UTC day, USD per UTC calendar month. A fixed window is
// exact at its boundary: with rpm=N the N-th request of a minute passes and
// the N+1-th gets 429 with Retry-After = seconds to the next minute. (A
// fixed window admits at most 2N in any 60 s straddling a boundary; that is
// the accepted price for exact, cheap, replica-consistent counting.)
//
// admit() atomically: rolls windows over, rejects when a checked counter is
// already at its limit, and otherwise counts the request and takes a
// concurrency slot. Rejected requests are not counted. Tokens, images and
// cost are only known afterwards: admit() rejects when they are already
// exhausted and settle() adds them (and frees the slot). settle() must be
// called exactly once for every admitted request.
//
// Two implementations: LocalLimiter (this process, a mutex) and
// RedisLimiter (shared by replicas, one Lua script per call). Both throw
// LimiterUnavailable when their backing store cannot be reached.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "access/key.hpp"
#include "http/message.hpp"

namespace osprey::access {

class LimiterUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class LimitKind { none, requests, tokens, images, concurrency, tokens_per_day, usd_per_month };
std::string_view to_string(LimitKind k);

// Which per-minute counters a route is subject to (requests, concurrency and
// the USD budget always apply).
struct Checks {
  bool tokens = false;  // tpm + tokens_per_day: chat routes
  bool images = false;  // ipm: detection routes
};

// Counter values after the operation, in the windows of `now_ms`.
struct Counters {
  std::int64_t now_ms = 0;
  std::int64_t requests = 0;  // this minute
  std::int64_t tokens = 0;    // this minute
  std::int64_t images = 0;    // this minute
  std::int64_t in_flight = 0;
  std::int64_t day_tokens = 0;
  std::int64_t month_usd_nano = 0;  // USD * 1e9, integer so Redis can add it atomically
};

struct Admission {
  bool allowed = false;
  LimitKind denied_by = LimitKind::none;
  Counters counters;
};

struct Consumption {
  std::int64_t tokens = 0;
  std::int64_t images = 0;
  double usd = 0;
};

class Limiter {
 public:
  virtual ~Limiter() = default;
  virtual http::Awaitable<Admission> admit(const std::string& key_id, const Limits& limits,
                                           const std::string& request_id, Checks checks, std::int64_t now_ms) = 0;
  virtual http::Awaitable<Counters> settle(const std::string& key_id, const Limits& limits,
                                           const std::string& request_id, const Consumption& used,
                                           std::int64_t now_ms) = 0;
  // Budget totals already spent before this process started (from the
  // ledger), so that a restart does not reset budgets. Only the local
  // limiter needs it; Redis keeps its own counters.
  // Frees the concurrency slot of an admitted request that will never be
  // settled (its coroutine was destroyed). Must not block or throw.
  virtual void abandon(const std::string& key_id, const std::string& request_id) noexcept {}
  virtual void seed(const std::string& key_id, std::int64_t day_tokens, double month_usd, std::int64_t now_ms) {}

  // Counts `images` against the key's images-per-minute window without
  // counting a request: how video streams and WebSocket connections, which
  // are one request each but carry many frames, are held to `ipm`. Denied
  // (nothing counted) when the minute's images already reached ipm or the
  // month's USD budget is spent. BLOCKS on the backing store: call it from
  // a stream's own thread or the CPU pool, never from an I/O thread.
  virtual Admission take_images(const std::string& key_id, const Limits& limits, std::int64_t images,
                                std::int64_t now_ms) = 0;
};

// Window arithmetic shared by both implementations.
struct Windows {
  std::int64_t minute = 0;  // now / 60 000
  std::int64_t day = 0;     // now / 86 400 000
  std::int64_t month = 0;   // year * 12 + month - 1
  std::int64_t minute_reset_ms = 0;  // ms until the next minute
  std::int64_t day_reset_ms = 0;
  std::int64_t month_reset_ms = 0;
};
Windows windows_at(std::int64_t now_ms);

std::int64_t usd_to_nano(double usd);

// Seconds (>= 1, rounded up) until the limit that denied a request resets.
std::int64_t retry_after_seconds(LimitKind k, std::int64_t now_ms);

// OpenAI-style headers for every limit the key has:
// x-ratelimit-{limit,remaining,reset}-{requests,tokens,images}.
std::vector<std::pair<std::string, std::string>> rate_limit_headers(const Limits& limits, const Counters& c);

// "850ms", "12s", "1m0s": the duration format of x-ratelimit-reset-*.
std::string format_reset(std::int64_t ms);

}  // namespace osprey::access
