#pragma once
// Key: what the server knows about one client API key. The plaintext is
// never stored; `hash` is HMAC-SHA-256(pepper, plaintext) (see pepper.hpp).
//
// Limits of 0 mean "unlimited". Scopes are "detect", "chat" and "admin";
// admin implies every other scope.
//
// Expiry: a key may carry `expires_at` (unix seconds, 0 = never). It is a
// property of the key, not of the cache: the auth path compares it with the
// clock on every request (access_service.hpp), so a key stops working at
// that second even though nothing reloads the cached keys then.
//
// Rotation (KeyStore::rotate) replaces a key with a new one that has a new
// id: usage in the ledger stays attributed to the id that made it, and the
// new record names its predecessor in `rotated_from`.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace osprey::access {

inline const std::set<std::string>& known_scopes() {
  static const std::set<std::string> s{"detect", "chat", "admin"};
  return s;
}

struct Limits {
  std::int64_t rpm = 0;          // requests per minute
  std::int64_t tpm = 0;          // tokens (prompt + completion) per minute, chat routes
  std::int64_t ipm = 0;          // images per minute, detection routes
  std::int64_t concurrency = 0;  // requests in flight at once
  std::int64_t tokens_per_day = 0;  // UTC day
  double usd_per_month = 0;         // UTC calendar month, from the price table
  bool any() const { return rpm || tpm || ipm || concurrency || tokens_per_day || usd_per_month > 0; }
};

struct KeySpec {
  std::string name;
  std::set<std::string> scopes;
  std::vector<std::string> models;  // empty: every model
  Limits limits;
  std::int64_t expires_at = 0;  // unix seconds; 0: never
};

struct KeyRecord {
  std::string id;  // "key_..."; public
  std::string name;
  std::string hash;  // 32 raw bytes
  std::string prefix;
  std::string last4;
  std::set<std::string> scopes;
  std::vector<std::string> models;
  Limits limits;
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t revoked_at = 0;  // 0: active
  std::int64_t expires_at = 0;  // unix seconds; 0: never
  std::string rotated_from;     // the key this one replaced ("" when none)

  bool revoked() const { return revoked_at != 0; }
  // Expired at `now` (unix seconds): the key works up to, not at, expires_at.
  bool expired(std::int64_t now) const { return expires_at != 0 && now >= expires_at; }
  bool has_scope(const std::string& s) const { return scopes.count("admin") || scopes.count(s); }
  std::string display() const { return prefix + "..." + last4; }
  // Public view: never the hash.
  nlohmann::json to_json() const;
};

// The system clock in unix seconds.
std::int64_t unix_now();

// Parses "detect,chat" into a validated set; throws ApiError(400) on an
// unknown scope or an empty list.
std::set<std::string> parse_scopes(const std::string& csv);
std::vector<std::string> parse_list(const std::string& csv);
// Throws ApiError(400) when a limit is negative or not finite, or when the
// key would expire at or before `now` (a key born dead is always a mistake).
void validate(const KeySpec& spec, std::int64_t now = unix_now());
// Reads a KeySpec from a JSON body (admin REST), throwing ApiError(400).
// Expiry is "expires_in" (seconds from `now`, > 0) or "expires_at" (unix
// seconds, or ISO-8601 UTC text), not both.
KeySpec spec_from_json(const nlohmann::json& j, std::int64_t now = unix_now());

// The longest duration or grace accepted (100 years): keeps now + duration
// far from overflowing, and anything longer is a typo.
inline constexpr std::int64_t kMaxDurationSeconds = 100LL * 365 * 24 * 3600;

// "3600s", "90m", "12h", "30d" -> seconds. A bare number is refused, as
// "30" could mean seconds or days; "0" alone is accepted (it is 0 in any
// unit). Throws ApiError(400) naming `param` on anything else, a negative
// value or one over kMaxDurationSeconds.
std::int64_t parse_duration(std::string_view text, const std::string& param = "duration");
// Unix seconds ("1801353600") or ISO-8601 UTC ("2027-01-31T00:00:00Z",
// "2027-01-31" for midnight) -> unix seconds. A time of day needs the "Z"
// (or "+00:00"): a time without its zone would be read differently by
// whoever wrote it. Throws ApiError(400) naming `param`.
std::int64_t parse_utc_time(std::string_view text, const std::string& param = "expires_at");
// Unix seconds -> "2027-01-31T00:00:00Z".
std::string utc_time(std::int64_t unix_s);

}  // namespace osprey::access
