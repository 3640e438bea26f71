#pragma once
// Retry policy helpers: exponential backoff with full jitter (AWS
// architecture blog, "Exponential Backoff and Jitter") and the server's own
// hints, Retry-After (delta seconds or an HTTP date) and OpenAI's
// retry-after-ms.
//
//   auto d = backoff_delay(attempt, base, cap);      // uniform in [0, min(cap, base*2^(attempt-1))]
//   auto hint = parse_retry_hint(retry_after, retry_after_ms, now);  // nullopt if none/invalid

#include <chrono>
#include <optional>
#include <string_view>

namespace osprey::gateway {

using Millis = std::chrono::milliseconds;

// attempt is 1 for the delay after the first failure.
Millis backoff_delay(int attempt, Millis base, Millis cap);

// retry-after-ms wins when valid (it is more precise). Negative values and
// dates in the past give 0. `now` is wall-clock time, for HTTP dates.
std::optional<Millis> parse_retry_hint(std::string_view retry_after, std::string_view retry_after_ms,
                                       std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace osprey::gateway
