#pragma once
// Query: the decoded parameters of a URL query string, in order.
//
//   Query q = Query::parse("model=yolov8n&confidence=0.4&classes=dog&classes=cat");
//   q.get("model")        -> "yolov8n"
//   q.all("classes")      -> {"dog", "cat"}
//
// Malformed percent escapes make parse() throw ApiError(400).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osprey::http {

class Query {
 public:
  static Query parse(std::string_view query);

  std::optional<std::string> get(std::string_view key) const;
  std::vector<std::string> all(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace osprey::http
