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
        {"revoked_at", {{"type", "integer"}, {"nullable", true}}}}}};
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
          "usd_per_month": {"type": "number"}}}}}}}})");
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
        auto spec = access::spec_from_json(http::parse_json_body(ctx));
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
      .responses = {{"201", "Created; `key` holds the full key"}, {"400", "Invalid specification"},
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
}

}  // namespace osprey::api
