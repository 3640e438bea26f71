#include "access/key.hpp"

#include <cmath>

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
  return j;
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

void validate(const KeySpec& spec) {
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
}

namespace {
std::int64_t get_int(const nlohmann::json& o, const char* name) {
  if (!o.contains(name) || o[name].is_null()) return 0;
  const auto& v = o[name];
  if (!v.is_number_integer()) throw bad_request(std::string(name) + " must be an integer", name);
  return v.get<std::int64_t>();
}
}  // namespace

KeySpec spec_from_json(const nlohmann::json& j) {
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
  validate(spec);
  return spec;
}

}  // namespace osprey::access
