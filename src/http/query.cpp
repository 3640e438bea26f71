#include "http/query.hpp"

#include "common/error.hpp"
#include "common/strings.hpp"

namespace osprey::http {

Query Query::parse(std::string_view query) {
  Query q;
  if (query.empty()) return q;
  for (auto part : str::split(query, '&')) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto raw_key = part.substr(0, eq);
    auto raw_val = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    auto key = str::percent_decode(raw_key);
    auto val = str::percent_decode(raw_val);
    if (!key || !val) throw bad_request("malformed percent-encoding in query string", "query");
    q.items_.emplace_back(std::move(*key), std::move(*val));
  }
  return q;
}

std::optional<std::string> Query::get(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::nullopt;
}

std::vector<std::string> Query::all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (k == key) out.push_back(v);
  return out;
}

}  // namespace osprey::http
