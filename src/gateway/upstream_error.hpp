#pragma once
// Turning an upstream HTTP error into the ApiError Osprey answers with.
//
//   ApiError e = map_upstream_error(503, body, retry_after_header);
//
// Faithful to the upstream: same status; message, type, code and param taken
// from its OpenAI-shaped JSON body ({"error":{...}} or {"error":"text"})
// when it is valid JSON, otherwise a generic message naming the status (a
// non-JSON body, often an HTML page from a proxy, is not echoed). The
// message passes through log::redact(), so an upstream that echoes our key
// ("Incorrect API key provided: sk-...") does not leak it. Retry-After is
// passed on for 429 and 503.

#include <string_view>

#include "common/error.hpp"

namespace osprey::gateway {

ApiError map_upstream_error(unsigned status, std::string_view body, std::string_view retry_after = {});

// The OpenAI error type for an HTTP status (invalid_request_error,
// authentication_error, permission_error, not_found_error, rate_limit_error,
// api_error).
const char* error_type_for_status(unsigned status);

}  // namespace osprey::gateway
