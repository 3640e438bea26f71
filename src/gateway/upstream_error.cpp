#include "gateway/upstream_error.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace osprey::gateway {

const char* error_type_for_status(unsigned status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 422: return "invalid_request_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

namespace {

std::string as_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  return {};
}

}  // namespace

ApiError map_upstream_error(unsigned status, std::string_view body, std::string_view retry_after) {
  if (status < 400 || status > 599) status = 502;  // a "successful" reply we cannot use
  std::string message = "upstream returned HTTP " + std::to_string(status);
  std::string type = error_type_for_status(status);
  std::string code, param;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object()) {
      if (auto m = as_text(e.value("message", nlohmann::json())); !m.empty()) message = m;
      if (auto t = as_text(e.value("type", nlohmann::json())); !t.empty()) type = t;
      code = as_text(e.value("code", nlohmann::json()));
      param = as_text(e.value("param", nlohmann::json()));
    } else if (e.is_string()) {
      message = e.get<std::string>();
    }
  } else if (j.is_discarded() || !j.is_object()) {
    message += " with a body that is not JSON";
  }
  ApiError err(static_cast<int>(status), log::redact(message), type, code, param);
  if ((status == 429 || status == 503) && !retry_after.empty()) err.headers.emplace_back("Retry-After", std::string(retry_after));
  return err;
}

}  // namespace osprey::gateway
