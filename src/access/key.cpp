#include "access/key.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>

#include "common/error.hpp"
#include "common/strings.hpp"

namespace osprey::access {

nlohmann::json KeyRecord::to_json() const {
  nlohmann::json j = {
      {"id", id},
      {"object", "api_key"},
      {"name", name},
      {"display", display()},
      {"scopes", scopes},
      {"models", models},
      {"limits",
       {{"rpm", limits.rpm},
        {"tpm", limits.tpm},
        {"ipm", limits.ipm},
        {"concurrency", limits.concurrency},
        {"tokens_per_day", limits.tokens_per_day},
        {"usd_per_month", limits.usd_per_month}}},
      {"created_at", created_at},
  };
  j["revoked_at"] = revoked_at ? nlohmann::json(revoked_at) : nlohmann::json(nullptr);
  j["expires_at"] = expires_at ? nlohmann::json(expires_at) : nlohmann::json(nullptr);
  j["rotated_from"] = rotated_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(rotated_from);
  return j;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// The last second of 9999: ISO-8601 years have four digits.
constexpr std::int64_t kMaxUnixSeconds = 253402300799;

// Digits only: from_chars would also take a sign.
bool parse_digits(std::string_view t, std::int64_t& out) {
  if (t.empty() || t.size() > 18) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size();
}

std::optional<std::int64_t> parse_iso(std::string_view s) {
  // YYYY-MM-DD[THH:MM:SS(Z|+00:00)]
  std::int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!parse_digits(s.substr(0, 4), y) || !parse_digits(s.substr(5, 2), mo) || !parse_digits(s.substr(8, 2), d))
    return std::nullopt;
  auto rest = s.substr(10);
  if (!rest.empty()) {
    if (rest.ends_with("Z")) rest.remove_suffix(1);
    else if (rest.ends_with("+00:00")) rest.remove_suffix(6);
    else return std::nullopt;
    if (rest.size() != 9 || rest[0] != 'T' || rest[3] != ':' || rest[6] != ':') return std::nullopt;
    if (!parse_digits(rest.substr(1, 2), h) || !parse_digits(rest.substr(4, 2), mi) ||
        !parse_digits(rest.substr(7, 2), sec))
      return std::nullopt;
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{year(static_cast<int>(y)), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (y < 1970 || !ymd.ok()) return std::nullopt;
  auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec);
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::int64_t parse_duration(std::string_view text, const std::string& param) {
  auto t = str::trim(text);
  auto bad = [&] {
    return bad_request(param + " '" + std::string(text) +
                           "' is not a duration (expected a number with s, m, h or d, e.g. 3600s, 90m, 12h, 30d)",
                       param);
  };
  if (t == "0") return 0;
  if (t.size() < 2) throw bad();
  std::int64_t unit = 0;
  switch (t.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: throw bad();
  }
  std::int64_t n = 0;
  if (!parse_digits(t.substr(0, t.size() - 1), n)) throw bad();
  if (n > kMaxDurationSeconds / unit)
    throw bad_request(param + " '" + std::string(text) + "' is longer than 100 years", param);
  return n * unit;
}

std::int64_t parse_utc_time(std::string_view text, const std::string& param) {
  auto t = str::trim(text);
  std::optional<std::int64_t> out;
  std::int64_t secs = 0;
  if (parse_digits(t, secs)) out = secs;
  else out = parse_iso(t);
  if (!out || *out <= 0 || *out > kMaxUnixSeconds)
    throw bad_request(param + " '" + std::string(text) +
                          "' is not a time (expected unix seconds or ISO-8601 UTC, e.g. 2027-01-31T00:00:00Z)",
                      param);
  return *out;
}

std::string utc_time(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> parse_list(const std::string& csv) {
  std::vector<std::string> out;
  for (auto part : str::split(csv, ',')) {
    auto t = str::trim(part);
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

std::set<std::string> parse_scopes(const std::string& csv) {
  std::set<std::string> out;
  for (auto& s : parse_list(csv)) {
    auto l = str::lower(s);
    if (!known_scopes().count(l))
      throw bad_request("unknown scope '" + s + "' (expected detect, chat or admin)", "scopes");
    out.insert(l);
  }
  if (out.empty()) throw bad_request("a key needs at least one scope (detect, chat or admin)", "scopes");
  return out;
}

void validate(const KeySpec& spec, std::int64_t now) {
  const auto& l = spec.limits;
  for (auto [name, v] : {std::pair{"rpm", l.rpm}, {"tpm", l.tpm}, {"ipm", l.ipm}, {"concurrency", l.concurrency},
                         {"tokens_per_day", l.tokens_per_day}})
    if (v < 0) throw bad_request(std::string(name) + " must be >= 0 (0 = unlimited)", name);
  if (!std::isfinite(l.usd_per_month) || l.usd_per_month < 0)
    throw bad_request("usd_per_month must be a number >= 0 (0 = unlimited)", "usd_per_month");
  if (spec.scopes.empty()) throw bad_request("a key needs at least one scope (detect, chat or admin)", "scopes");
  for (const auto& s : spec.scopes)
    if (!known_scopes().count(s)) throw bad_request("unknown scope '" + s + "'", "scopes");
  if (spec.name.size() > 200) throw bad_request("name is longer than 200 characters", "name");
  if (spec.expires_at < 0 || spec.expires_at > kMaxUnixSeconds)
    throw bad_request("expires_at must be a unix time in seconds (0 = never)", "expires_at");
  if (spec.expires_at != 0 && spec.expires_at <= now)
    throw bad_request("expires_at " + utc_time(spec.expires_at) + " is not in the future (now " + utc_time(now) + ")",
                      "expires_at");
}

namespace {
std::int64_t get_int(const nlohmann::json& o, const char* name) {
  if (!o.contains(name) || o[name].is_null()) return 0;
  const auto& v = o[name];
  if (!v.is_number_integer()) throw bad_request(std::string(name) + " must be an integer", name);
  return v.get<std::int64_t>();
}

bool present(const nlohmann::json& o, const char* name) { return o.contains(name) && !o[name].is_null(); }

// "expires_in" (seconds from now) or "expires_at" (unix seconds or ISO-8601
// text) -> unix seconds; 0 when neither is given.
std::int64_t expiry_from_json(const nlohmann::json& j, std::int64_t now) {
  bool in = present(j, "expires_in"), at = present(j, "expires_at");
  if (in && at) throw bad_request("give expires_in or expires_at, not both", "expires_in");
  if (in) {
    const auto& v = j["expires_in"];
    // A huge unsigned value reads as negative here, and is refused with the rest.
    auto secs = v.is_number_integer() ? v.get<std::int64_t>() : 0;
    if (secs <= 0 || secs > kMaxDurationSeconds)
      throw bad_request("expires_in must be a whole number of seconds, more than 0 and at most 100 years",
                        "expires_in");
    return now + secs;
  }
  if (at) {
    const auto& v = j["expires_at"];
    if (v.is_string()) return parse_utc_time(v.get<std::string>(), "expires_at");
    auto secs = v.is_number_integer() ? v.get<std::int64_t>() : 0;
    if (secs <= 0 || secs > kMaxUnixSeconds)
      throw bad_request("expires_at must be unix seconds (an integer > 0) or ISO-8601 UTC text like "
                        "\"2027-01-31T00:00:00Z\"; omit it (or send null) for a key that never expires",
                        "expires_at");
    return secs;
  }
  return 0;
}

}  // namespace

KeySpec spec_from_json(const nlohmann::json& j, std::int64_t now) {
  if (!j.is_object()) throw bad_request("expected a JSON object");
  KeySpec spec;
  if (j.contains("name")) {
    if (!j["name"].is_string()) throw bad_request("name must be a string", "name");
    spec.name = j["name"].get<std::string>();
  }
  if (!j.contains("scopes")) throw bad_request("scopes is required (e.g. [\"detect\",\"chat\"])", "scopes");
  const auto& sc = j["scopes"];
  if (sc.is_string()) {
    spec.scopes = parse_scopes(sc.get<std::string>());
  } else if (sc.is_array()) {
    std::string csv;
    for (const auto& s : sc) {
      if (!s.is_string()) throw bad_request("scopes must be strings", "scopes");
      csv += s.get<std::string>() + ",";
    }
    spec.scopes = parse_scopes(csv);
  } else {
    throw bad_request("scopes must be an array of strings", "scopes");
  }
  if (j.contains("models") && !j["models"].is_null()) {
    if (!j["models"].is_array()) throw bad_request("models must be an array of strings", "models");
    for (const auto& m : j["models"]) {
      if (!m.is_string() || m.get<std::string>().empty())
        throw bad_request("models must be non-empty strings", "models");
      spec.models.push_back(m.get<std::string>());
    }
  }
  const nlohmann::json& lim = j.contains("limits") ? j["limits"] : j;
  if (!lim.is_object()) throw bad_request("limits must be an object", "limits");
  spec.limits.rpm = get_int(lim, "rpm");
  spec.limits.tpm = get_int(lim, "tpm");
  spec.limits.ipm = get_int(lim, "ipm");
  spec.limits.concurrency = get_int(lim, "concurrency");
  spec.limits.tokens_per_day = get_int(lim, "tokens_per_day");
  if (lim.contains("usd_per_month") && !lim["usd_per_month"].is_null()) {
    if (!lim["usd_per_month"].is_number()) throw bad_request("usd_per_month must be a number", "usd_per_month");
    spec.limits.usd_per_month = lim["usd_per_month"].get<double>();
  }
  spec.expires_at = expiry_from_json(j, now);
  validate(spec, now);
  return spec;
}

}  // namespace osprey::access
