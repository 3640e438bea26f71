#pragma once
// Key: what the server knows about one client API key. The plaintext is
// never stored; `hash` is HMAC-SHA-256(pepper, plaintext) (see pepper.hpp).
//
// Limits of 0 mean "unlimited". Scopes are "detect", "chat" and "admin";
// admin implies every other scope.

#include <cstdint>
#include <set>
#include <string>
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

  bool revoked() const { return revoked_at != 0; }
  bool has_scope(const std::string& s) const { return scopes.count("admin") || scopes.count(s); }
  std::string display() const { return prefix + "..." + last4; }
  // Public view: never the hash.
  nlohmann::json to_json() const;
};

// Parses "detect,chat" into a validated set; throws ApiError(400) on an
// unknown scope or an empty list.
std::set<std::string> parse_scopes(const std::string& csv);
std::vector<std::string> parse_list(const std::string& csv);
// Throws ApiError(400) when a limit is negative or not finite.
void validate(const KeySpec& spec);
// Reads a KeySpec from a JSON body (admin REST), throwing ApiError(400).
KeySpec spec_from_json(const nlohmann::json& j);

}  // namespace osprey::access
