// The access area's routes over the real middleware: admin key REST,
// GET /v1/usage (own vs admin, grouping, paging) and GET /metrics.

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
    svc = std::make_unique<access::AccessService>(cfg, ledger.get());
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
