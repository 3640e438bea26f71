#include "api/admin_routes.hpp"

#include "common/error.hpp"
#include "http/response.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;

namespace {

const json& key_schema() {
  static const json s = {
      {"type", "object"},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"object", {{"type", "string"}}},
        {"name", {{"type", "string"}}},
        {"display", {{"type", "string"}, {"description", "prefix...last4; the key itself is shown only once"}}},
        {"scopes", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"models", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"limits", {{"type", "object"}}},
        {"created_at", {{"type", "integer"}}},
        {"revoked_at", {{"type", "integer"}, {"nullable", true}}},
        {"expires_at",
         {{"type", "integer"}, {"nullable", true}, {"description", "unix seconds; null: never expires"}}},
        {"rotated_from",
         {{"type", "string"}, {"nullable", true}, {"description", "id of the key this one replaced by rotation"}}}}}};
  return s;
}

json create_body_doc() {
  return json::parse(R"({
    "required": true,
    "content": {"application/json": {"schema": {
      "type": "object", "required": ["scopes"],
      "properties": {
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": ["detect", "chat", "admin"]}},
        "models": {"type": "array", "items": {"type": "string"}, "description": "allowed models; omit for all"},
        "limits": {"type": "object", "description": "0 or absent = unlimited", "properties": {
          "rpm": {"type": "integer"}, "tpm": {"type": "integer"}, "ipm": {"type": "integer"},
          "concurrency": {"type": "integer"}, "tokens_per_day": {"type": "integer"},
          "usd_per_month": {"type": "number"}}},
        "expires_in": {"type": "integer", "minimum": 1,
          "description": "seconds until the key expires; not with expires_at"},
        "expires_at": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}],
          "description":
            "unix seconds or ISO-8601 UTC (2027-01-31T00:00:00Z); not with expires_in; neither: never expires"}}}}}})");
}

json rotate_body_doc() {
  return json::parse(R"({
    "required": false,
    "content": {"application/json": {"schema": {
      "type": "object",
      "properties": {
        "grace_seconds": {"type": "integer", "minimum": 0, "default": 86400,
          "description": "how long the old key keeps working; 0 revokes it at once"}}}}}})");
}

// The optional body of a rotation: {"grace_seconds": N}; none means a day.
std::int64_t grace_from_body(const Context& ctx) {
  constexpr std::int64_t kDefaultGrace = 24 * 3600;
  if (ctx.request.body().empty()) return kDefaultGrace;
  auto j = http::parse_json_body(ctx);
  if (!j.is_object()) throw bad_request("expected a JSON object");
  if (!j.contains("grace_seconds") || j["grace_seconds"].is_null()) return kDefaultGrace;
  const auto& v = j["grace_seconds"];
  // A huge unsigned value reads as negative, and is refused with the rest.
  auto grace = v.is_number_integer() ? v.get<std::int64_t>() : -1;
  if (grace < 0 || grace > access::kMaxDurationSeconds)
    throw bad_request("grace_seconds must be a whole number of seconds, 0 (revoke the old key at once) or more, "
                      "at most 100 years",
                      "grace_seconds");
  return grace;
}

// The new key's record, its plaintext (once) and what became of the old key.
json rotated_json(const access::RotatedKey& r) {
  const auto& old = r.previous;
  auto body = r.key.record.to_json();
  body["key"] = r.key.plaintext;
  body["previous"] = {{"id", old.id},
                      {"expires_at", old.expires_at ? json(old.expires_at) : json(nullptr)},
                      {"revoked_at", old.revoked_at ? json(old.revoked_at) : json(nullptr)}};
  return body;
}

json usage_json(const usage::Totals& t) {
  return {{"requests", t.requests},           {"images", t.images},
          {"prompt_tokens", t.prompt_tokens}, {"completion_tokens", t.completion_tokens},
          {"total_tokens", t.tokens()},       {"cost_usd", t.cost_usd}};
}

}  // namespace

void add_admin_routes(http::Router& router, access::AccessService& access, usage::Ledger& ledger) {
  router.add({
      .method = http::Verb::post,
      .path = "/v1/admin/keys",
      .handler = [&access](Context& ctx) -> Awaitable<Response> {
        // The service's clock, so that expires_in counts from the same "now"
        // that authenticate() compares with.
        auto spec = access::spec_from_json(http::parse_json_body(ctx), access.now_ms() / 1000);
        auto work = access.create_key(std::move(spec));  // named: see usage/completion.hpp
        auto created = co_await std::move(work);
        auto body = created.record.to_json();
        body["key"] = created.plaintext;
        co_return http::json_response(ctx, 201, body);
      },
      .summary = "Create a client API key",
      .tag = "Admin",
      .description = "Returns the full key in `key`. It is shown only in this response; store it now.",
      .request_body = create_body_doc(),
      .responses = {{"201", "Created; `key` holds the full key"},
                    {"400", "Invalid specification (also: both expires_in and expires_at, or an expiry in the past)"},
                    {"401", "Missing or invalid key"}, {"403", "Not an admin key"}},
      .response_schema = key_schema(),
      .scope = "admin",
      .max_body_bytes = 64 * 1024,
  });

  router.add({
      .method = http::Verb::get,
      .path = "/v1/admin/keys",
      .handler = [&access](Context& ctx) -> Awaitable<Response> {
        auto keys = co_await access.list_keys();
        json data = json::array();
        for (const auto& k : keys) data.push_back(k.to_json());
        co_return http::json_response(ctx, 200, {{"object", "list"}, {"data", data}});
      },
      .summary = "List client API keys",
      .tag = "Admin",
      .responses = {{"200", "All keys, newest first, revoked included"}},
      .response_schema = {{"type", "object"},
                          {"properties", {{"object", {{"type", "string"}}}, {"data", {{"type", "array"}, {"items", key_schema()}}}}}},
      .scope = "admin",
  });

  router.add({
      .method = http::Verb::get,
      .path = "/v1/admin/keys/{id}",
      .handler = [&access, &ledger](Context& ctx) -> Awaitable<Response> {
        std::string id(ctx.param("id"));
        auto key = co_await access.get_key(id);
        if (!key) throw not_found("no API key with id '" + id + "'", "key_not_found");
        auto now = access.now_ms();
        auto q = ledger.query([id, now](usage::Ledger& l) {
          return std::pair{l.totals({id, usage::utc_day_start_ms(now), 0}),
                           l.totals({id, usage::utc_month_start_ms(now), 0})};
        });
        auto [day, month] = co_await std::move(q);
        auto body = key->to_json();
        body["usage"] = {{"today", usage_json(day)}, {"this_month", usage_json(month)}};
        co_return http::json_response(ctx, 200, body);
      },
      .summary = "Show one client API key",
      .tag = "Admin",
      .responses = {{"200", "The key and its usage today and this month"}, {"404", "Unknown key id"}},
      .response_schema = key_schema(),
      .scope = "admin",
  });

  router.add({
      .method = http::Verb::delete_,
      .path = "/v1/admin/keys/{id}",
      .handler = [&access](Context& ctx) -> Awaitable<Response> {
        std::string id(ctx.param("id"));
        auto revoke = access.revoke_key(id);
        if (!co_await std::move(revoke)) throw not_found("no API key with id '" + id + "'", "key_not_found");
        auto key = co_await access.get_key(id);
        auto body = key ? key->to_json() : json::object();
        body["revoked"] = true;
        co_return http::json_response(ctx, 200, body);
      },
      .summary = "Revoke a client API key",
      .tag = "Admin",
      .description = "Takes effect at once on this server and within about a second on every server sharing "
                     "the data directory.",
      .responses = {{"200", "Revoked (also when it already was)"}, {"404", "Unknown key id"}},
      .response_schema = key_schema(),
      .scope = "admin",
  });

  router.add({
      .method = http::Verb::post,
      .path = "/v1/admin/keys/{id}/rotate",
      .handler = [&access](Context& ctx) -> Awaitable<Response> {
        std::string id(ctx.param("id"));
        auto grace = grace_from_body(ctx);
        auto work = access.rotate_key(id, grace);  // named: see usage/completion.hpp
        auto rotated = co_await std::move(work);
        if (!rotated) throw not_found("no active API key with id '" + id + "' (unknown or revoked)", "key_not_found");
        co_return http::json_response(ctx, 201, rotated_json(*rotated));
      },
      .summary = "Rotate a client API key",
      .tag = "Admin",
      .description = "Creates a new key (new id) with the same name, scopes, models, limits and expiry, and lets "
                     "the old key work for `grace_seconds` more (default 86400; it is never extended past its "
                     "own expiry; 0 revokes it at once). The new key is in `key`, shown only in this response; "
                     "`previous` gives the old key's id and new `expires_at` (or `revoked_at`).",
      .request_body = rotate_body_doc(),
      .responses = {{"201", "Rotated; `key` holds the new full key"},
                    {"400", "Invalid grace_seconds"},
                    {"401", "Missing or invalid key"},
                    {"403", "Not an admin key"},
                    {"404", "Unknown or revoked key id"},
                    {"409", "The key has expired, or was already rotated (rotate its successor)"}},
      .response_schema = key_schema(),
      .scope = "admin",
      .max_body_bytes = 64 * 1024,
  });
}

}  // namespace osprey::api
