#include "http/response.hpp"

#include <cstring>

#include "common/log.hpp"
#include "common/strings.hpp"

namespace osprey::http {

Response make_response(const Context& ctx, unsigned status, std::string body, std::string_view content_type) {
  Response res{static_cast<Status>(status), ctx.request.version()};
  res.insert(Field::content_type, content_type);  // a fresh response: nothing to replace
  add_context_headers(ctx, res);
  // Keep-alive is the default of HTTP/1.1 (the server decides the final value
  // anyway), and Content-Length is written from the body with the head (see
  // http/wire.hpp): neither needs a field here.
  if (ctx.request.version() != 11 || !keep_alive(ctx.request)) res.keep_alive(keep_alive(ctx.request));
  res.body() = std::move(body);
  return res;
}

void add_context_headers(const Context& ctx, Response& res) {
  for (const auto& [k, v] : ctx.response_headers) {
    bool present = false;
    for (const auto& f : res) {
      auto name = f.name_string();
      // Usually the very bytes this server set: memcmp decides at once.
      if (name.size() == k.size() && (std::memcmp(name.data(), k.data(), k.size()) == 0 || str::iequals(name, k))) {
        present = true;
        break;
      }
    }
    if (!present) res.insert(k, v);
  }
}

Response json_response(const Context& ctx, unsigned status, const nlohmann::json& body) {
  return make_response(ctx, status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/json");
}

nlohmann::json error_body(const ApiError& err, ErrorStyle style) {
  // Messages may quote user input or upstream text: scrub secrets here too.
  std::string message = log::redact(err.what());
  if (style == ErrorStyle::kserve) return {{"error", message}};
  nlohmann::json e = {{"message", message}, {"type", err.type()}};
  e["param"] = err.param().empty() ? nlohmann::json(nullptr) : nlohmann::json(err.param());
  e["code"] = err.code().empty() ? nlohmann::json(nullptr) : nlohmann::json(err.code());
  return {{"error", e}};
}

Response error_response(const Context& ctx, const ApiError& err) {
  auto style = ctx.route ? ctx.route->error_style : ErrorStyle::openai;
  auto res = json_response(ctx, static_cast<unsigned>(err.status()), error_body(err, style));
  for (const auto& [k, v] : err.headers) res.set(k, v);
  return res;
}

Response error_response(const Request& req, const ApiError& err, ErrorStyle style) {
  Response res{static_cast<Status>(err.status()), req.version()};
  res.set(Field::content_type, "application/json");
  for (const auto& [k, v] : err.headers) res.set(k, v);
  res.keep_alive(req.keep_alive());
  res.body() = error_body(err, style).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

void check_json_body(const Context& ctx) {
  auto ct = ctx.request[Field::content_type];
  if (!ct.empty()) {
    // Compared in place, case-insensitively: this runs on every JSON request.
    auto base = str::trim(ct.substr(0, ct.find(';')));
    constexpr std::string_view kSuffix = "+json";
    bool json = str::iequals(base, "application/json") ||
                (base.size() > kSuffix.size() && str::iequals(base.substr(base.size() - kSuffix.size()), kSuffix));
    if (!json)
      throw ApiError(415, "expected Content-Type application/json, got '" + std::string(ct) + "'",
                     "invalid_request_error", "unsupported_media_type");
  }
  if (ctx.request.body().empty()) throw bad_request("request body is empty; expected a JSON object", {}, "invalid_json");
}

nlohmann::json parse_json_body(const Context& ctx) {
  check_json_body(ctx);
  const auto& body = ctx.request.body();
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw bad_request("request body is not valid JSON (at byte " + std::to_string(e.byte) + ")", {},
                      "invalid_json");
  }
}

}  // namespace osprey::http
