#pragma once
// Admin REST for client API keys (scope "admin"):
//
//   POST   /v1/admin/keys        create; the response holds the full key, once
//   GET    /v1/admin/keys        list (never the key itself: prefix...last4)
//   GET    /v1/admin/keys/{id}   one key, with its usage today / this month
//   DELETE /v1/admin/keys/{id}   revoke (idempotent); 404 for an unknown id
//
//   api::add_admin_routes(router, access, ledger);

#include "access/access_service.hpp"
#include "http/router.hpp"
#include "usage/ledger.hpp"

namespace osprey::api {

void add_admin_routes(http::Router& router, access::AccessService& access, usage::Ledger& ledger);

}  // namespace osprey::api
