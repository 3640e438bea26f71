#pragma once
// Admin REST for client API keys (scope "admin"):
//
//   POST   /v1/admin/keys        create; the response holds the full key, once
//   GET    /v1/admin/keys        list (never the key itself: prefix...last4)
//   GET    /v1/admin/keys/{id}   one key, with its usage today / this month
//   DELETE /v1/admin/keys/{id}   revoke (idempotent); 404 for an unknown id
//   POST   /v1/admin/keys/{id}/rotate   {"grace_seconds": N} (optional, default
//                                 86400): a new key with the same settings;
//                                 201 with the new key, once, and `previous`
//                                 (the old key, valid N s more; 0 revokes it)
//
// A key may expire: create takes "expires_in" (seconds) or "expires_at"
// (unix seconds or ISO-8601 UTC); the auth middleware then answers 401
// key_expired from that second on.
//
//   api::add_admin_routes(router, access, ledger);

#include "access/access_service.hpp"
#include "http/router.hpp"
#include "usage/ledger.hpp"

namespace osprey::api {

void add_admin_routes(http::Router& router, access::AccessService& access, usage::Ledger& ledger);

}  // namespace osprey::api
