#pragma once
// GET /v1/usage: what a key consumed, from the usage ledger.
//
//   api::add_usage_routes(router, access, ledger);
//
// Any valid key sees its own usage; an admin key may pass ?key_id= for
// another key (or omit it for all keys). Query parameters: from, to (unix
// seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC; default: this month),
// group_by=day|model, limit (records returned, default 100, max 1000, 0 for
// totals only) and before (the `next_before` cursor of the previous page).

#include <cstdint>
#include <optional>
#include <string_view>

#include "access/access_service.hpp"
#include "http/router.hpp"
#include "usage/ledger.hpp"

namespace osprey::api {

void add_usage_routes(http::Router& router, access::AccessService& access, usage::Ledger& ledger);

// Parses a time bound as above into ms since the epoch; nullopt if invalid.
std::optional<std::int64_t> parse_time_bound(std::string_view s);

}  // namespace osprey::api
