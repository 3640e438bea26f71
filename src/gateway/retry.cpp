#include "gateway/retry.hpp"

#include <ctime>
#include <random>
#include <string>

#include "common/strings.hpp"

namespace osprey::gateway {

Millis backoff_delay(int attempt, Millis base, Millis cap) {
  if (attempt < 1) attempt = 1;
  long long ceiling = base.count();
  for (int i = 1; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  if (ceiling > cap.count()) ceiling = cap.count();
  if (ceiling <= 0) return Millis(0);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return Millis(std::uniform_int_distribution<long long>(0, ceiling)(rng));
}

namespace {

std::optional<double> parse_number(std::string_view s) {
  s = str::trim(s);
  if (s.empty() || s.size() > 32) return std::nullopt;
  std::string tmp(s);
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size() || v != v) return std::nullopt;  // trailing junk or NaN
  return v;
}

Millis clamp_ms(double ms) {
  if (ms < 0) ms = 0;
  if (ms > 24.0 * 3600 * 1000) ms = 24.0 * 3600 * 1000;  // a day: anything more is nonsense
  return Millis(static_cast<long long>(ms));
}

}  // namespace

std::optional<Millis> parse_retry_hint(std::string_view retry_after, std::string_view retry_after_ms,
                                       std::chrono::system_clock::time_point now) {
  if (auto ms = parse_number(retry_after_ms)) return clamp_ms(*ms);
  if (auto s = parse_number(retry_after)) return clamp_ms(*s * 1000.0);
  auto text = std::string(str::trim(retry_after));
  if (text.empty()) return std::nullopt;
  // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT"
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  return clamp_ms(static_cast<double>(std::chrono::duration_cast<Millis>(when - now).count()));
}

}  // namespace osprey::gateway
