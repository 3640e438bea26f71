#pragma once
// ApiError: the one exception type that handlers and services throw to turn a
// failure into an HTTP error response.
//
//   throw ApiError(400, "confidence must be in [0,1]", "invalid_request_error",
//                  "invalid_value", "confidence");
//
// The router's outermost layer catches it and renders the OpenAI-style body
//   {"error":{"message":...,"type":...,"param":...,"code":...}}
// (KServe routes render {"error": message} instead, see http/response.hpp).
// Any other exception that escapes a handler becomes a 500 whose message does
// not echo the exception text (it may hold internals); the text is logged.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace osprey {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string code = {}, std::string param = {})
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        code_(std::move(code)),
        param_(std::move(param)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }

  // Extra response headers (e.g. Retry-After on 429, Allow on 405).
  std::vector<std::pair<std::string, std::string>> headers;

 private:
  int status_;
  std::string type_;
  std::string code_;
  std::string param_;
};

// Shorthands for the common cases; the type strings follow OpenAI's names.
inline ApiError bad_request(std::string msg, std::string param = {}, std::string code = "invalid_value") {
  return ApiError(400, std::move(msg), "invalid_request_error", std::move(code), std::move(param));
}
inline ApiError not_found(std::string msg, std::string code = "not_found") {
  return ApiError(404, std::move(msg), "invalid_request_error", std::move(code));
}
inline ApiError server_error(std::string msg, std::string code = "internal_error") {
  return ApiError(500, std::move(msg), "server_error", std::move(code));
}

}  // namespace osprey
