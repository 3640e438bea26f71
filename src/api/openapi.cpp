#include "api/openapi.hpp"

#include <map>
#include <string>

namespace osprey::api {
namespace {

std::vector<std::string> path_params(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = path.find('{', i)) != std::string::npos) {
    auto j = path.find('}', i);
    if (j == std::string::npos) break;
    out.push_back(path.substr(i + 1, j - i - 1));
    i = j + 1;
  }
  return out;
}

nlohmann::json error_schema_ref() { return {{"$ref", "#/components/schemas/Error"}}; }

}  // namespace

nlohmann::json build_openapi(const std::vector<http::Route>& routes, const std::string& version) {
  nlohmann::json paths = nlohmann::json::object();
  std::map<std::string, bool> tags;
  for (const auto& r : routes) {
    if (r.hidden) continue;
    nlohmann::json op;
    op["summary"] = r.summary.empty() ? std::string(to_string(r.method)) + " " + r.path : r.summary;
    if (!r.description.empty()) op["description"] = r.description;
    if (!r.tag.empty()) {
      op["tags"] = {r.tag};
      tags[r.tag] = true;
    }
    std::string id;
    for (char c : std::string(to_string(r.method)) + r.path) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    op["operationId"] = id;
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : path_params(r.path))
      params.push_back({{"name", p}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    for (const auto& p : r.params) {
      nlohmann::json j = {{"name", p.name}, {"in", p.in}, {"required", p.required}, {"schema", {{"type", p.type}}}};
      if (!p.description.empty()) j["description"] = p.description;
      params.push_back(j);
    }
    if (!params.empty()) op["parameters"] = params;
    if (!r.request_body.is_null()) op["requestBody"] = r.request_body;
    nlohmann::json responses = nlohmann::json::object();
    bool has_ok = false;
    for (const auto& [status, desc] : r.responses) {
      nlohmann::json resp = {{"description", desc}};
      if (!status.empty() && status[0] == '2') {
        has_ok = true;
        if (!r.response_schema.is_null())
          resp["content"] = {{"application/json", {{"schema", r.response_schema}}}};
      } else if (!status.empty() && (status[0] == '4' || status[0] == '5')) {
        resp["content"] = {{"application/json", {{"schema", error_schema_ref()}}}};
      }
      responses[status] = resp;
    }
    if (!has_ok) {
      nlohmann::json ok = {{"description", "Success"}};
      if (!r.response_schema.is_null()) ok["content"] = {{"application/json", {{"schema", r.response_schema}}}};
      responses["200"] = ok;
    }
    if (!r.scope.empty()) {
      op["security"] = nlohmann::json::array({{{"bearerAuth", nlohmann::json::array()}},
                                              {{"apiKeyHeader", nlohmann::json::array()}}});
      op["x-osprey-scope"] = r.scope;
      if (!responses.contains("401"))
        responses["401"] = {{"description", "Missing, unknown or revoked API key"},
                            {"content", {{"application/json", {{"schema", error_schema_ref()}}}}}};
      if (!responses.contains("403") && r.scope != "key")
        responses["403"] = {{"description", "The key lacks the '" + r.scope + "' scope"},
                            {"content", {{"application/json", {{"schema", error_schema_ref()}}}}}};
      if (!responses.contains("429"))
        responses["429"] = {{"description", "Rate limit or budget exceeded (see Retry-After)"},
                            {"content", {{"application/json", {{"schema", error_schema_ref()}}}}}};
    }
    op["responses"] = responses;
    std::string method = std::string(to_string(r.method));
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r.path][method] = op;
  }
  nlohmann::json tag_list = nlohmann::json::array();
  for (const auto& [t, _] : tags) tag_list.push_back({{"name", t}});
  return {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "Osprey"},
        {"version", version},
        {"description", "YOLO object detection and an OpenAI-compatible gateway, with API keys, quotas and usage "
                        "monitoring."}}},
      {"servers", nlohmann::json::array({{{"url", "/"}}})},
      {"tags", tag_list},
      {"paths", paths},
      {"components",
       {{"securitySchemes",
         {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}, {"description", "Osprey API key (osk_...)"}}},
          {"apiKeyHeader", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}}}},
        {"schemas",
         {{"Error",
           {{"type", "object"},
            {"required", {"error"}},
            {"properties",
             {{"error",
               {{"type", "object"},
                {"properties",
                 {{"message", {{"type", "string"}}},
                  {"type", {{"type", "string"}}},
                  {"param", {{"type", {"string", "null"}}}},
                  {"code", {{"type", {"string", "null"}}}}}}}}}}}}}}}},
  };
}

}  // namespace osprey::api
