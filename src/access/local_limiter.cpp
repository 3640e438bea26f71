#include "access/local_limiter.hpp"

namespace osprey::access {

void LocalLimiter::roll(State& s, const Windows& w) {
  if (s.minute != w.minute) {
    s.minute = w.minute;
    s.requests = s.tokens = s.images = 0;
  }
  if (s.day != w.day) {
    s.day = w.day;
    s.day_tokens = 0;
  }
  if (s.month != w.month) {
    s.month = w.month;
    s.month_usd_nano = 0;
  }
}

Counters LocalLimiter::snapshot(const State& s, std::int64_t now_ms) {
  return Counters{now_ms, s.requests, s.tokens, s.images, s.in_flight, s.day_tokens, s.month_usd_nano};
}

LocalLimiter::State& LocalLimiter::current(const std::string& key_id, std::int64_t now_ms) {
  auto& s = keys_[key_id];
  roll(s, windows_at(now_ms));
  return s;
}

bool LocalLimiter::budget_spent(const State& s, const Limits& l) {
  auto usd_limit = usd_to_nano(l.usd_per_month);
  return usd_limit > 0 && s.month_usd_nano >= usd_limit;
}

Admission LocalLimiter::admit_now(const std::string& key_id, const Limits& l, Checks checks, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto& s = current(key_id, now_ms);
  Admission a;
  if (budget_spent(s, l))
    a.denied_by = LimitKind::usd_per_month;
  else if (checks.tokens && l.tokens_per_day > 0 && s.day_tokens >= l.tokens_per_day)
    a.denied_by = LimitKind::tokens_per_day;
  else if (checks.tokens && l.tpm > 0 && s.tokens >= l.tpm)
    a.denied_by = LimitKind::tokens;
  else if (checks.images && l.ipm > 0 && s.images >= l.ipm)
    a.denied_by = LimitKind::images;
  else if (l.rpm > 0 && s.requests >= l.rpm)
    a.denied_by = LimitKind::requests;
  else if (l.concurrency > 0 && s.in_flight >= l.concurrency)
    a.denied_by = LimitKind::concurrency;
  a.allowed = a.denied_by == LimitKind::none;
  if (a.allowed) {
    ++s.requests;
    ++s.in_flight;
  }
  a.counters = snapshot(s, now_ms);
  return a;
}

Counters LocalLimiter::settle_now(const std::string& key_id, const Consumption& used, std::int64_t now_ms) {
  auto w = windows_at(now_ms);
  std::lock_guard lock(mu_);
  auto& s = keys_[key_id];
  roll(s, w);  // a request that straddles a boundary is charged to the new window
  s.tokens += used.tokens;
  s.images += used.images;
  s.day_tokens += used.tokens;
  s.month_usd_nano += usd_to_nano(used.usd);
  if (s.in_flight > 0) --s.in_flight;
  return snapshot(s, now_ms);
}

Admission LocalLimiter::take_images(const std::string& key_id, const Limits& l, std::int64_t images,
                                    std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto& s = current(key_id, now_ms);
  Admission a;
  if (budget_spent(s, l))
    a.denied_by = LimitKind::usd_per_month;
  else if (l.ipm > 0 && s.images >= l.ipm)
    a.denied_by = LimitKind::images;
  a.allowed = a.denied_by == LimitKind::none;
  if (a.allowed) s.images += images;
  a.counters = snapshot(s, now_ms);
  return a;
}

void LocalLimiter::abandon(const std::string& key_id, const std::string&) noexcept {
  std::lock_guard lock(mu_);
  auto it = keys_.find(key_id);
  if (it != keys_.end() && it->second.in_flight > 0) --it->second.in_flight;
}

void LocalLimiter::seed(const std::string& key_id, std::int64_t day_tokens, double month_usd, std::int64_t now_ms) {
  auto w = windows_at(now_ms);
  std::lock_guard lock(mu_);
  auto& s = keys_[key_id];
  roll(s, w);
  s.day_tokens = std::max(s.day_tokens, day_tokens);
  s.month_usd_nano = std::max(s.month_usd_nano, usd_to_nano(month_usd));
}

http::Awaitable<Admission> LocalLimiter::admit(const std::string& key_id, const Limits& limits,
                                               const std::string&, Checks checks, std::int64_t now_ms) {
  co_return admit_now(key_id, limits, checks, now_ms);
}

http::Awaitable<Counters> LocalLimiter::settle(const std::string& key_id, const Limits&, const std::string&,
                                               const Consumption& used, std::int64_t now_ms) {
  co_return settle_now(key_id, used, now_ms);
}

}  // namespace osprey::access
