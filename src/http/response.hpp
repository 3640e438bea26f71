#pragma once
// Helpers to build responses in the shapes Osprey uses everywhere.
//
//   return json_response(ctx, 200, body);
//   return error_response(ctx, ApiError(404, "model 'x' not found"));
//
// error_response renders {"error":{"message","type","param","code"}} (the
// OpenAI shape) or, for routes with ErrorStyle::kserve, {"error": message}.
// Both copy ctx.response_headers onto the response and set keep-alive from
// the request.

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "http/context.hpp"
#include "http/route.hpp"

namespace osprey::http {

Response make_response(const Context& ctx, unsigned status, std::string body, std::string_view content_type);
Response json_response(const Context& ctx, unsigned status, const nlohmann::json& body);
Response error_response(const Context& ctx, const ApiError& err);
Response error_response(const Request& req, const ApiError& err, ErrorStyle style);

nlohmann::json error_body(const ApiError& err, ErrorStyle style = ErrorStyle::openai);

// Copies ctx.response_headers onto `res`, except those it already has (a
// handler's own value wins). A linear walk comparing lengths first: cheaper
// than Beast's find() for the handful of fields a response has (this runs
// for every response).
void add_context_headers(const Context& ctx, Response& res);

// Parses the request body as JSON; throws ApiError(400) with a message that
// says where parsing failed, or ApiError(415) when the Content-Type is set
// and is not JSON.
nlohmann::json parse_json_body(const Context& ctx);
// Only the checks before the parse (Content-Type, empty body), for callers
// that parse the body their own way (a SAX scan).
void check_json_body(const Context& ctx);

}  // namespace osprey::http
