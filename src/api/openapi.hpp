#pragma once
// Builds the OpenAPI 3.1 document from the route table: every route that is
// not `hidden` becomes an operation with its summary, tag, parameters (path
// parameters from the template, plus Route::params), request body,
// responses and, for routes with a scope, the API-key security requirement.

#include <nlohmann/json.hpp>

#include "http/router.hpp"

namespace osprey::api {

nlohmann::json build_openapi(const std::vector<http::Route>& routes, const std::string& version);

}  // namespace osprey::api
