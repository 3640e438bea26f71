#include "access/limiter.hpp"

#include <chrono>
#include <cmath>

#include "usage/ledger.hpp"

namespace osprey::access {

std::string_view to_string(LimitKind k) {
  switch (k) {
    case LimitKind::none: return "none";
    case LimitKind::requests: return "requests";
    case LimitKind::tokens: return "tokens";
    case LimitKind::images: return "images";
    case LimitKind::concurrency: return "concurrency";
    case LimitKind::tokens_per_day: return "tokens_per_day";
    case LimitKind::usd_per_month: return "usd_per_month";
  }
  return "unknown";
}

Windows windows_at(std::int64_t now_ms) {
  using namespace std::chrono;
  Windows w;
  w.minute = now_ms / 60'000;
  w.day = now_ms / 86'400'000;
  year_month_day d{floor<days>(sys_time<milliseconds>(milliseconds(now_ms)))};
  w.month = static_cast<int>(d.year()) * 12 + static_cast<unsigned>(d.month()) - 1;
  w.minute_reset_ms = (w.minute + 1) * 60'000 - now_ms;
  w.day_reset_ms = (w.day + 1) * 86'400'000 - now_ms;
  w.month_reset_ms = usage::utc_next_month_start_ms(now_ms) - now_ms;
  return w;
}

std::int64_t usd_to_nano(double usd) {
  if (!std::isfinite(usd) || usd <= 0) return 0;
  return static_cast<std::int64_t>(std::llround(usd * 1e9));
}

std::int64_t retry_after_seconds(LimitKind k, std::int64_t now_ms) {
  auto w = windows_at(now_ms);
  std::int64_t ms = 1000;
  switch (k) {
    case LimitKind::requests:
    case LimitKind::tokens:
    case LimitKind::images: ms = w.minute_reset_ms; break;
    case LimitKind::tokens_per_day: ms = w.day_reset_ms; break;
    case LimitKind::usd_per_month: ms = w.month_reset_ms; break;
    case LimitKind::concurrency:
    case LimitKind::none: ms = 1000; break;  // a slot frees when any request ends
  }
  return std::max<std::int64_t>(1, (ms + 999) / 1000);
}

std::string format_reset(std::int64_t ms) {
  if (ms < 1000) return std::to_string(std::max<std::int64_t>(ms, 0)) + "ms";
  std::int64_t s = (ms + 999) / 1000;
  if (s < 60) return std::to_string(s) + "s";
  std::int64_t m = s / 60;
  if (m < 60) return std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(m / 60) + "h" + std::to_string(m % 60) + "m" + std::to_string(s % 60) + "s";
}

std::vector<std::pair<std::string, std::string>> rate_limit_headers(const Limits& l, const Counters& c) {
  std::vector<std::pair<std::string, std::string>> h;
  auto w = windows_at(c.now_ms);
  auto add = [&](const char* what, std::int64_t limit, std::int64_t used, std::int64_t reset_ms) {
    if (limit <= 0) return;
    h.emplace_back(std::string("x-ratelimit-limit-") + what, std::to_string(limit));
    h.emplace_back(std::string("x-ratelimit-remaining-") + what, std::to_string(std::max<std::int64_t>(0, limit - used)));
    h.emplace_back(std::string("x-ratelimit-reset-") + what, format_reset(reset_ms));
  };
  add("requests", l.rpm, c.requests, w.minute_reset_ms);
  add("tokens", l.tpm, c.tokens, w.minute_reset_ms);
  add("images", l.ipm, c.images, w.minute_reset_ms);
  return h;
}

}  // namespace osprey::access
