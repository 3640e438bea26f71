// The access area's routes over the real middleware: admin key REST (with
// expiry and rotation), GET /v1/usage (own vs admin, grouping, paging) and
// GET /metrics.

#include <atomic>

#include "access/access_service.hpp"
#include "access/middleware.hpp"
#include "access_test_util.hpp"
#include "api/admin_routes.hpp"
#include "api/metrics_routes.hpp"
#include "api/usage_routes.hpp"
#include "usage/ledger.hpp"

using namespace osprey;
using namespace osprey::testutil;
using http::Verb;

namespace {

class ApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("osprey-api");
    cfg.data_dir = dir;
    cfg.access.bootstrap_admin_key = admin = "admin-key-for-the-api-routes-test";
    ledger = std::make_unique<usage::Ledger>(dir);
    // The real clock, which a test may move forward (expiry, grace).
    access::AccessService::Options opts;
    opts.clock = [this] { return usage::now_ms() + offset_ms.load(); };
    svc = std::make_unique<access::AccessService>(cfg, ledger.get(), opts);
    build(router, cfg.server);
  }
  void build(http::Router& r, const config::ServerConfig& server) {
    access::install_access_middleware(r, *svc, *ledger);
    api::add_admin_routes(r, *svc, *ledger);
    api::add_usage_routes(r, *svc, *ledger);
    api::add_metrics_route(r, server);
    r.add({.method = Verb::post,
           .path = "/chat",
           .handler = [](http::Context& ctx) -> http::Awaitable<http::Response> {
             ctx.usage.model = ctx.query.get("model").value_or("gpt-4o-mini");
             ctx.usage.prompt_tokens = 7;
             ctx.usage.completion_tokens = 3;
             co_return http::json_response(ctx, 200, {{"ok", true}});
           },
           .scope = "chat"});
  }
  Result call(Verb m, const std::string& target, const std::string& key, std::string body = {}) {
    return dispatch(router, {m, target, key.empty() ? std::map<std::string, std::string>{} : bearer(key),
                             std::move(body), body.empty() ? "" : "application/json"});
  }

  std::atomic<std::int64_t> offset_ms{0};
  std::string dir, admin;
  config::Config cfg;
  std::unique_ptr<usage::Ledger> ledger;
  std::unique_ptr<access::AccessService> svc;
  http::Router router;
};

}  // namespace

TEST_F(ApiRoutes, AdminKeyLifecycle) {
  auto created = call(Verb::post, "/v1/admin/keys", admin,
                      R"({"name":"ci","scopes":["chat"],"limits":{"rpm":100,"usd_per_month":5}})");
  ASSERT_EQ(created.status(), 201) << created.res.body();
  auto key = created.json()["key"].get<std::string>();
  auto id = created.json()["id"].get<std::string>();
  EXPECT_EQ(key.substr(0, 4), "osk_");
  EXPECT_EQ(created.json()["limits"]["rpm"], 100);

  EXPECT_EQ(call(Verb::post, "/chat", key).status(), 200);
  // Listing and showing never reveal the key.
  auto list = call(Verb::get, "/v1/admin/keys", admin);
  ASSERT_EQ(list.status(), 200);
  EXPECT_EQ(list.res.body().find(key), std::string::npos);
  EXPECT_EQ(list.json()["data"].size(), 2u);  // + the bootstrap admin key
  auto show = call(Verb::get, "/v1/admin/keys/" + id, admin);
  ASSERT_EQ(show.status(), 200);
  EXPECT_EQ(show.json()["usage"]["today"]["requests"], 1);
  EXPECT_EQ(show.json()["usage"]["today"]["total_tokens"], 10);
  EXPECT_EQ(show.res.body().find(key), std::string::npos);

  // Non-admin keys cannot administer.
  EXPECT_EQ(call(Verb::get, "/v1/admin/keys", key).status(), 403);
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys", key, R"({"scopes":["admin"]})").status(), 403);

  auto revoked = call(Verb::delete_, "/v1/admin/keys/" + id, admin);
  ASSERT_EQ(revoked.status(), 200);
  EXPECT_TRUE(revoked.json()["revoked"].get<bool>());
  EXPECT_FALSE(revoked.json()["revoked_at"].is_null());
  EXPECT_EQ(call(Verb::post, "/chat", key).status(), 401);  // at once, same process
  EXPECT_EQ(call(Verb::delete_, "/v1/admin/keys/key_nope", admin).status(), 404);
  EXPECT_EQ(call(Verb::get, "/v1/admin/keys/key_nope", admin).status(), 404);
}

TEST_F(ApiRoutes, AdminCreateRejectsBadSpecs) {
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["root"]})").status(), 400);
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys", admin, R"({"name":"x"})").status(), 400);
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"],"limits":{"rpm":-1}})").status(), 400);
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys", admin, "{not json").status(), 400);
}

TEST_F(ApiRoutes, UsageOwnAndAdmin) {
  auto a = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"]})").json();
  auto b = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["detect"]})").json();
  std::string ka = a["key"], ida = a["id"], kb = b["key"], idb = b["id"];
  call(Verb::post, "/chat", ka);
  call(Verb::post, "/chat?model=gpt-4o", ka);
  call(Verb::post, "/chat", kb);  // 403, still recorded for key b

  auto own = call(Verb::get, "/v1/usage?group_by=model", ka);
  ASSERT_EQ(own.status(), 200) << own.res.body();
  EXPECT_EQ(own.json()["key_id"], ida);
  EXPECT_EQ(own.json()["totals"]["requests"], 2);
  EXPECT_EQ(own.json()["totals"]["total_tokens"], 20);
  EXPECT_EQ(own.json()["groups"].size(), 2u);
  EXPECT_EQ(own.json()["data"].size(), 2u);
  EXPECT_EQ(own.json()["data"][0]["model"], "gpt-4o");

  // Another key's usage needs admin.
  EXPECT_EQ(call(Verb::get, "/v1/usage?key_id=" + idb, ka).status(), 403);
  auto other = call(Verb::get, "/v1/usage?key_id=" + idb, admin);
  ASSERT_EQ(other.status(), 200);
  EXPECT_EQ(other.json()["totals"]["requests"], 1);
  EXPECT_EQ(other.json()["data"][0]["status"], 403);

  // Paging.
  auto p1 = call(Verb::get, "/v1/usage?limit=1", ka).json();
  EXPECT_TRUE(p1["has_more"].get<bool>());
  auto p2 = call(Verb::get, "/v1/usage?limit=1&before=" + std::to_string(p1["next_before"].get<long>()), ka).json();
  ASSERT_EQ(p2["data"].size(), 1u);
  EXPECT_LT(p2["data"][0]["seq"].get<long>(), p1["data"][0]["seq"].get<long>());
  // GET /v1/usage is itself recorded: newest is the first page's own call.
  EXPECT_EQ(p1["data"][0]["route"], "/v1/usage");

  // Time ranges and bad parameters.
  EXPECT_EQ(call(Verb::get, "/v1/usage?from=2000-01-01&to=2000-01-02", ka).json()["totals"]["requests"], 0);
  EXPECT_EQ(call(Verb::get, "/v1/usage?from=yesterday", ka).status(), 400);
  EXPECT_EQ(call(Verb::get, "/v1/usage?group_by=hour", ka).status(), 400);
  EXPECT_EQ(call(Verb::get, "/v1/usage?limit=5000", ka).status(), 400);
  EXPECT_EQ(call(Verb::get, "/v1/usage?from=2026-11-02&to=2026-11-01", ka).status(), 400);
  EXPECT_EQ(call(Verb::get, "/v1/usage", "").status(), 401);
}

TEST_F(ApiRoutes, TimeBounds) {
  EXPECT_EQ(api::parse_time_bound("1795600830"), 1795600830000);
  EXPECT_EQ(api::parse_time_bound("2026-11-25"), 1795564800000);
  EXPECT_EQ(api::parse_time_bound("2026-11-25T10:00:30Z"), 1795600830000);
  EXPECT_FALSE(api::parse_time_bound("2026-02-30"));
  EXPECT_FALSE(api::parse_time_bound("2026-11-25T25:00:00Z"));
  EXPECT_FALSE(api::parse_time_bound("-5"));
  EXPECT_FALSE(api::parse_time_bound(""));
  EXPECT_FALSE(api::parse_time_bound("-026-11-25T10:00:30Z"));  // found by fuzz_access
  EXPECT_FALSE(api::parse_time_bound("1969-12-31"));
}

TEST_F(ApiRoutes, MetricsPublicOrAdmin) {
  call(Verb::post, "/chat", admin);
  auto m = call(Verb::get, "/metrics", "");
  ASSERT_EQ(m.status(), 200);
  EXPECT_NE(m.header("Content-Type").find("text/plain"), std::string::npos);
  auto body = m.res.body();
  EXPECT_NE(body.find("osprey_http_requests_total{"), std::string::npos) << body;
  EXPECT_NE(body.find("route=\"/chat\""), std::string::npos);
  EXPECT_NE(body.find("osprey_http_request_duration_seconds"), std::string::npos);
  EXPECT_NE(body.find("osprey_ledger_records_total"), std::string::npos);
  EXPECT_NE(body.find("osprey_ledger_commit_seconds"), std::string::npos);
  EXPECT_NE(body.find("osprey_open_connections"), std::string::npos);

  config::ServerConfig priv;
  priv.metrics_public = false;
  http::Router r;
  build(r, priv);
  EXPECT_EQ(dispatch(r, {Verb::get, "/metrics", {}}).status(), 401);
  EXPECT_EQ(dispatch(r, {Verb::get, "/metrics", bearer(admin)}).status(), 200);
}

TEST_F(ApiRoutes, AdminCreateWithExpiry) {
  auto now = access::unix_now();
  auto in = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"],"expires_in":3600})");
  ASSERT_EQ(in.status(), 201) << in.res.body();
  auto at = in.json()["expires_at"].get<std::int64_t>();
  EXPECT_GE(at, now + 3600);
  EXPECT_LE(at, access::unix_now() + 3600);
  EXPECT_TRUE(in.json()["rotated_from"].is_null());
  auto iso = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"],"expires_at":"2099-01-31T12:30:15Z"})");
  ASSERT_EQ(iso.status(), 201) << iso.res.body();
  EXPECT_EQ(iso.json()["expires_at"], 4073545815);
  auto unix_s = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"],"expires_at":4073545815})");
  EXPECT_EQ(unix_s.json()["expires_at"], 4073545815);
  auto never = call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"]})");
  EXPECT_TRUE(never.json()["expires_at"].is_null());
  auto shown = call(Verb::get, "/v1/admin/keys/" + iso.json()["id"].get<std::string>(), admin);
  EXPECT_EQ(shown.json()["expires_at"], 4073545815);

  for (auto bad : {R"({"scopes":["chat"],"expires_in":3600,"expires_at":4073545815})",
                   R"({"scopes":["chat"],"expires_in":0})", R"({"scopes":["chat"],"expires_in":"1h"})",
                   R"({"scopes":["chat"],"expires_at":"2099-01-31T12:30:15"})",
                   R"({"scopes":["chat"],"expires_at":"2020-01-01T00:00:00Z"})",
                   R"({"scopes":["chat"],"expires_at":1000})"}) {
    SCOPED_TRACE(bad);
    auto r = call(Verb::post, "/v1/admin/keys", admin, bad);
    EXPECT_EQ(r.status(), 400);
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  }
  auto both =
      call(Verb::post, "/v1/admin/keys", admin, R"({"scopes":["chat"],"expires_in":60,"expires_at":4073545815})");
  EXPECT_NE(both.json()["error"]["message"].get<std::string>().find("not both"), std::string::npos);

  // The key works until it expires, then gets key_expired.
  auto key = in.json()["key"].get<std::string>();
  EXPECT_EQ(call(Verb::post, "/chat", key).status(), 200);
  offset_ms = 3601 * 1000;
  auto r = call(Verb::post, "/chat", key);
  EXPECT_EQ(r.status(), 401);
  EXPECT_EQ(r.json()["error"]["code"], "key_expired");
}

TEST_F(ApiRoutes, AdminRotate) {
  auto created = call(Verb::post, "/v1/admin/keys", admin,
                      R"({"name":"ci","scopes":["chat"],"models":["gpt-4o-mini"],"limits":{"rpm":100}})");
  ASSERT_EQ(created.status(), 201);
  auto old_key = created.json()["key"].get<std::string>();
  auto old_id = created.json()["id"].get<std::string>();

  auto now = access::unix_now();
  auto rot = call(Verb::post, "/v1/admin/keys/" + old_id + "/rotate", admin, R"({"grace_seconds":600})");
  ASSERT_EQ(rot.status(), 201) << rot.res.body();
  auto j = rot.json();
  auto new_key = j["key"].get<std::string>();
  auto new_id = j["id"].get<std::string>();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(new_key.substr(0, 4), "osk_");
  EXPECT_EQ(j["rotated_from"], old_id);
  EXPECT_EQ(j["name"], "ci");
  EXPECT_EQ(j["models"], (nlohmann::json{"gpt-4o-mini"}));
  EXPECT_EQ(j["limits"]["rpm"], 100);
  EXPECT_TRUE(j["expires_at"].is_null());
  EXPECT_EQ(j["previous"]["id"], old_id);
  auto grace_end = j["previous"]["expires_at"].get<std::int64_t>();
  EXPECT_GE(grace_end, now + 600);
  EXPECT_LE(grace_end, access::unix_now() + 600);
  EXPECT_TRUE(j["previous"]["revoked_at"].is_null());
  // The key is shown in this response only.
  EXPECT_EQ(call(Verb::get, "/v1/admin/keys", admin).res.body().find(new_key), std::string::npos);
  EXPECT_EQ(call(Verb::get, "/v1/admin/keys/" + old_id, admin).json()["expires_at"], grace_end);

  // Both work during the grace; after it only the new one.
  EXPECT_EQ(call(Verb::post, "/chat", new_key).status(), 200);
  EXPECT_EQ(call(Verb::post, "/chat", old_key).status(), 200);
  offset_ms = 601 * 1000;
  EXPECT_EQ(call(Verb::post, "/chat", old_key).json()["error"]["code"], "key_expired");
  EXPECT_EQ(call(Verb::post, "/chat", new_key).status(), 200);
  offset_ms = 0;

  // Rotating the old key again: it has a successor already.
  auto twice = call(Verb::post, "/v1/admin/keys/" + old_id + "/rotate", admin);
  EXPECT_EQ(twice.status(), 409);
  EXPECT_EQ(twice.json()["error"]["code"], "key_already_rotated");

  // No body: a day's grace. Then grace 0: revoked at once.
  auto by_default = call(Verb::post, "/v1/admin/keys/" + new_id + "/rotate", admin);
  ASSERT_EQ(by_default.status(), 201) << by_default.res.body();
  EXPECT_GE(by_default.json()["previous"]["expires_at"].get<std::int64_t>(), now + 86400);
  auto third_id = by_default.json()["id"].get<std::string>();
  auto third_key = by_default.json()["key"].get<std::string>();
  auto now_gone = call(Verb::post, "/v1/admin/keys/" + third_id + "/rotate", admin, R"({"grace_seconds":0})");
  ASSERT_EQ(now_gone.status(), 201);
  EXPECT_FALSE(now_gone.json()["previous"]["revoked_at"].is_null());
  EXPECT_EQ(call(Verb::post, "/chat", third_key).status(), 401);
  EXPECT_EQ(call(Verb::post, "/chat", now_gone.json()["key"].get<std::string>()).status(), 200);

  // Unknown or revoked: 404. Bad grace: 400. Not admin: 403; no key: 401.
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys/key_nope/rotate", admin).status(), 404);
  EXPECT_EQ(call(Verb::post, "/v1/admin/keys/" + third_id + "/rotate", admin).status(), 404);
  auto live = "/v1/admin/keys/" + now_gone.json()["id"].get<std::string>() + "/rotate";
  EXPECT_EQ(call(Verb::post, live, admin, R"({"grace_seconds":-1})").status(), 400);
  EXPECT_EQ(call(Verb::post, live, admin, R"({"grace_seconds":"1h"})").status(), 400);
  EXPECT_EQ(call(Verb::post, live, admin, R"([60])").status(), 400);
  EXPECT_EQ(call(Verb::post, live, new_key).status(), 403);
  EXPECT_EQ(call(Verb::post, live, "").status(), 401);
  EXPECT_EQ(call(Verb::post, live, admin, R"({"grace_seconds":60})").status(), 201);  // still rotatable
}
