// The auth matrix over the real middleware chain: no / invalid / revoked /
// expired / wrong-scope / valid key, on every kind of route, and the ways a
// key can be presented; rotation as the running server sees it.

#include <atomic>
#include <thread>

#include "access/access_service.hpp"
#include "access/key_format.hpp"
#include "access/key_store.hpp"
#include "access/middleware.hpp"
#include "access/pepper.hpp"
#include "access_test_util.hpp"
#include "usage/ledger.hpp"

using namespace osprey;
using namespace osprey::testutil;
using http::Verb;

namespace {

http::Handler ok_handler() {
  return [](http::Context& ctx) -> http::Awaitable<http::Response> {
    nlohmann::json j = {{"key_id", ctx.principal ? ctx.principal->key_id : ""}};
    co_return http::json_response(ctx, 200, j);
  };
}

class AuthMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("osprey-auth");
    cfg.data_dir = dir;
    cfg.access.bootstrap_admin_key = "bootstrap-admin-key-for-tests-1234";
    ledger = std::make_unique<usage::Ledger>(dir);
    access::AccessService::Options opts;
    opts.poll_interval = std::chrono::milliseconds(100);
    svc = std::make_unique<access::AccessService>(cfg, ledger.get(), opts);
    access::install_access_middleware(router, *svc, *ledger);
    router.add({.method = Verb::get, .path = "/public", .handler = ok_handler()});
    router.add({.method = Verb::post, .path = "/detect", .handler = ok_handler(), .scope = "detect"});
    router.add({.method = Verb::post, .path = "/chat", .handler = ok_handler(), .scope = "chat"});
    router.add({.method = Verb::get, .path = "/admin", .handler = ok_handler(), .scope = "admin"});
    router.add({.method = Verb::get, .path = "/mine", .handler = ok_handler(), .scope = "key"});
    router.add({.method = Verb::post, .path = "/v1/vision/detection", .handler = ok_handler(), .scope = "detect"});
    router.add({.method = Verb::post, .path = "/v2/models/{name}/infer", .handler = ok_handler(), .scope = "detect"});

    detect_key = create({"detect"});
    chat_key = create({"chat"});
    restricted_key = create({"detect", "chat"}, {"yolov8n", "gpt-4o-mini"});
    auto revoked = svc_create({"detect", "chat"});
    revoked_key = revoked.plaintext;
    EXPECT_TRUE(run_blocking(svc->revoke_key(revoked.record.id)));
  }

  template <class T>
  T run_blocking(http::Awaitable<T> a) {
    boost::asio::io_context ioc;
    auto fut = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
    ioc.run();
    return fut.get();
  }
  access::CreatedKey svc_create(std::set<std::string> scopes, std::vector<std::string> models = {}) {
    access::KeySpec spec;
    spec.scopes = std::move(scopes);
    spec.models = std::move(models);
    return run_blocking(svc->create_key(spec));
  }
  std::string create(std::set<std::string> scopes, std::vector<std::string> models = {}) {
    return svc_create(std::move(scopes), std::move(models)).plaintext;
  }
  // A second service on the same data dir whose clock the test sets, with
  // a /chat route.
  struct Timed {
    std::atomic<std::int64_t> now_ms{usage::now_ms()};
    std::unique_ptr<access::AccessService> svc;
    http::Router router;
    void advance_s(std::int64_t s) { now_ms += s * 1000; }
    int status(const std::string& key) { return dispatch(router, {Verb::post, "/chat", bearer(key)}).status(); }
  };
  std::unique_ptr<Timed> timed_service() {
    auto t = std::make_unique<Timed>();
    access::AccessService::Options opts;
    opts.poll_interval = std::chrono::milliseconds(100);
    opts.clock = [p = t.get()] { return p->now_ms.load(); };
    t->svc = std::make_unique<access::AccessService>(cfg, ledger.get(), opts);
    access::install_access_middleware(t->router, *t->svc, *ledger);
    t->router.add({.method = Verb::post, .path = "/chat", .handler = ok_handler(), .scope = "chat"});
    return t;
  }
  access::CreatedKey create_on(access::AccessService& s, std::int64_t expires_at = 0) {
    access::KeySpec spec;
    spec.scopes = {"chat"};
    spec.expires_at = expires_at;
    return run_blocking(s.create_key(spec));
  }

  int status(Verb m, const std::string& target, std::map<std::string, std::string> headers,
             std::string body = {}, std::string ct = {}) {
    return dispatch(router, {m, target, std::move(headers), std::move(body), std::move(ct)}).status();
  }

  std::string dir;
  config::Config cfg;
  std::unique_ptr<usage::Ledger> ledger;
  std::unique_ptr<access::AccessService> svc;
  http::Router router;
  std::string detect_key, chat_key, restricted_key, revoked_key;
};

}  // namespace

TEST_F(AuthMatrix, Matrix) {
  const std::string admin = cfg.access.bootstrap_admin_key;
  struct Row {
    std::string key;  // "" = none
    int public_, detect, chat, admin_, mine;
  };
  const std::string bogus = access::generate_key();  // well-formed, never stored
  std::vector<std::pair<std::string, Row>> rows = {
      {"none", {"", 200, 401, 401, 401, 401}},
      {"garbage", {"not-a-key", 200, 401, 401, 401, 401}},
      {"unknown", {bogus, 200, 401, 401, 401, 401}},
      {"revoked", {revoked_key, 200, 401, 401, 401, 401}},
      {"detect", {detect_key, 200, 200, 403, 403, 200}},
      {"chat", {chat_key, 200, 403, 200, 403, 200}},
      {"admin", {admin, 200, 200, 200, 200, 200}},
  };
  for (const auto& [name, r] : rows) {
    SCOPED_TRACE(name);
    auto h = r.key.empty() ? std::map<std::string, std::string>{} : bearer(r.key);
    EXPECT_EQ(status(Verb::get, "/public", h), r.public_);
    EXPECT_EQ(status(Verb::post, "/detect", h), r.detect);
    EXPECT_EQ(status(Verb::post, "/chat", h), r.chat);
    EXPECT_EQ(status(Verb::get, "/admin", h), r.admin_);
    EXPECT_EQ(status(Verb::get, "/mine", h), r.mine);
  }
}

TEST_F(AuthMatrix, ErrorBodiesFollowOpenAi) {
  auto r = dispatch(router, {Verb::post, "/chat", {}});
  ASSERT_EQ(r.status(), 401);
  EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  EXPECT_EQ(r.json()["error"]["code"], "invalid_api_key");
  auto revoked = dispatch(router, {Verb::post, "/chat", bearer(revoked_key)});
  EXPECT_EQ(revoked.json()["error"]["code"], "invalid_api_key");
  EXPECT_NE(revoked.json()["error"]["message"].get<std::string>().find("revoked"), std::string::npos);
  auto forbidden = dispatch(router, {Verb::post, "/chat", bearer(detect_key)});
  EXPECT_EQ(forbidden.status(), 403);
  EXPECT_EQ(forbidden.json()["error"]["code"], "insufficient_scope");
}

TEST_F(AuthMatrix, KeyHeadersAndDeepStackFormField) {
  EXPECT_EQ(status(Verb::post, "/detect", {{"X-API-Key", detect_key}}), 200);
  EXPECT_EQ(status(Verb::post, "/detect", {{"Authorization", "bearer  " + detect_key}}), 200);
  EXPECT_EQ(status(Verb::post, "/detect", {{"Authorization", "Basic " + detect_key}}), 401);
  std::string form =
      "--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\n" + detect_key +
      "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n\r\nJPEGDATA\r\n--XyZ--\r\n";
  EXPECT_EQ(status(Verb::post, "/v1/vision/detection", {}, form, "multipart/form-data; boundary=XyZ"), 200);
  // The form field counts only on DeepStack routes.
  EXPECT_EQ(status(Verb::post, "/detect", {}, form, "multipart/form-data; boundary=XyZ"), 401);
  // A malformed form is simply "no key".
  EXPECT_EQ(status(Verb::post, "/v1/vision/detection", {}, "--XyZ\r\ngarbage", "multipart/form-data; boundary=XyZ"),
            401);
}

TEST_F(AuthMatrix, AllowedModels) {
  auto h = bearer(restricted_key);
  EXPECT_EQ(status(Verb::post, "/chat", h, R"({"model":"gpt-4o-mini","messages":[]})", "application/json"), 200);
  EXPECT_EQ(status(Verb::post, "/chat", h, R"({"model":"gpt-4o","messages":[]})", "application/json"), 403);
  EXPECT_EQ(status(Verb::post, "/detect?model=yolov8n", h), 200);
  EXPECT_EQ(status(Verb::post, "/detect?model=yolov8x", h), 403);
  EXPECT_EQ(status(Verb::post, "/v2/models/yolov8x/infer", h), 403);
  EXPECT_EQ(status(Verb::post, "/v2/models/yolov8n/infer", h), 200);
  auto r = dispatch(router, {Verb::post, "/chat", h, R"({"model":"gpt-4o"})", "application/json"});
  EXPECT_EQ(r.json()["error"]["code"], "model_not_allowed");
  // Unrestricted keys may use any model.
  EXPECT_EQ(status(Verb::post, "/detect?model=yolov8x", bearer(detect_key)), 200);
}

TEST_F(AuthMatrix, RevokeFromAnotherProcessIsNoticed) {
  auto created = svc_create({"detect"});
  ASSERT_EQ(status(Verb::post, "/detect", bearer(created.plaintext)), 200);
  {
    // What `osprey keys revoke` does: its own connection to keys.db.
    access::KeyStore other(dir, access::resolve_pepper("", dir));
    ASSERT_TRUE(other.revoke(created.record.id));
  }
  int last = 0;
  for (int i = 0; i < 100 && (last = status(Verb::post, "/detect", bearer(created.plaintext))) != 401; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(last, 401);
}

TEST_F(AuthMatrix, KeyCreatedByAnotherProcessIsNoticed) {
  std::string key;
  {
    access::KeyStore other(dir, access::resolve_pepper("", dir));
    access::KeySpec spec;
    spec.scopes = {"chat"};
    key = other.create(spec).plaintext;
  }
  int last = 0;
  for (int i = 0; i < 100 && (last = status(Verb::post, "/chat", bearer(key))) != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(last, 200);
}

TEST_F(AuthMatrix, AuthDisabledMakesEverythingPublic) {
  config::Config c = cfg;
  c.access.auth_required = false;
  access::AccessService open(c, ledger.get());
  http::Router r;
  access::install_access_middleware(r, open, *ledger);
  r.add({.method = Verb::get, .path = "/admin", .handler = ok_handler(), .scope = "admin"});
  EXPECT_EQ(dispatch(r, {Verb::get, "/admin", {}}).status(), 200);
}

TEST_F(AuthMatrix, EveryRequestIsInTheLedgerEvenRefusals) {
  auto before = ledger->totals({}).requests;
  status(Verb::post, "/chat", {});                    // 401
  status(Verb::post, "/chat", bearer(detect_key));    // 403
  status(Verb::get, "/nowhere", {});                  // 404
  status(Verb::post, "/detect", bearer(detect_key));  // 200
  // Each dispatch returned only after its record committed.
  EXPECT_EQ(ledger->totals({}).requests, before + 4);
  auto recs = ledger->records({}, 4);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].status, 200);
  EXPECT_EQ(recs[0].route, "/detect");
  EXPECT_FALSE(recs[0].key_id.empty());
  EXPECT_EQ(recs[1].status, 404);
  EXPECT_EQ(recs[1].route, "(unmatched)");
  EXPECT_EQ(recs[2].status, 403);
  EXPECT_EQ(recs[3].status, 401);
  EXPECT_TRUE(recs[3].key_id.empty());
}

TEST_F(AuthMatrix, ExpiredKeyIsRefusedWithKeyExpired) {
  auto t = timed_service();
  auto expires = access::unix_now() + 100;
  auto key = create_on(*t->svc, expires).plaintext;
  EXPECT_EQ(t->status(key), 200);
  // Up to the last millisecond before expires_at the key works; from that
  // second on it does not, though its cached record never changed.
  t->now_ms = expires * 1000 - 1;
  EXPECT_EQ(t->status(key), 200);
  t->now_ms = expires * 1000;
  auto r = dispatch(t->router, {Verb::post, "/chat", bearer(key)});
  ASSERT_EQ(r.status(), 401);
  EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  EXPECT_EQ(r.json()["error"]["code"], "key_expired");
  auto msg = r.json()["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("expired"), std::string::npos) << msg;
  EXPECT_NE(msg.find(access::utc_time(expires)), std::string::npos) << msg;
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(t->svc->authenticate(key).result, access::AccessService::AuthResult::expired);
  // Keys without an expiry are unaffected by the clock.
  EXPECT_EQ(t->status(chat_key), 200);
  // Revoked wins over expired.
  EXPECT_EQ(t->svc->authenticate(revoked_key).result, access::AccessService::AuthResult::revoked);
}

TEST_F(AuthMatrix, ExpiryFollowsTheRealClock) {
  // The default clock: a key that expires at the next whole second. Start
  // early in a second so the first request has >= 200 ms to spare.
  auto ms_into_second = [] { return usage::now_ms() % 1000; };
  if (ms_into_second() > 800) std::this_thread::sleep_for(std::chrono::milliseconds(1000 - ms_into_second()));
  auto expires = access::unix_now() + 1;
  auto key = create_on(*svc, expires).plaintext;
  EXPECT_EQ(status(Verb::post, "/chat", bearer(key)), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(expires * 1000 - usage::now_ms() + 20));
  auto r = dispatch(router, {Verb::post, "/chat", bearer(key)});
  EXPECT_EQ(r.status(), 401);
  EXPECT_EQ(r.json()["error"]["code"], "key_expired");
}

TEST_F(AuthMatrix, RotationKeepsTheOldKeyForTheGraceOnly) {
  auto t = timed_service();
  auto old = create_on(*t->svc);
  auto rotated = run_blocking(t->svc->rotate_key(old.record.id, 100));
  ASSERT_TRUE(rotated);
  const auto& fresh = rotated->key.plaintext;
  EXPECT_EQ(t->status(fresh), 200);
  EXPECT_EQ(t->status(old.plaintext), 200);  // during the grace
  t->advance_s(101);
  auto r = dispatch(t->router, {Verb::post, "/chat", bearer(old.plaintext)});
  EXPECT_EQ(r.status(), 401);
  EXPECT_EQ(r.json()["error"]["code"], "key_expired");
  EXPECT_EQ(t->status(fresh), 200);

  // Grace 0: the old key is refused from the very next request.
  auto again = run_blocking(t->svc->rotate_key(rotated->key.record.id, 0));
  ASSERT_TRUE(again);
  EXPECT_EQ(t->status(fresh), 401);
  EXPECT_EQ(t->status(again->key.plaintext), 200);
  // Nothing to rotate: revoked or unknown.
  EXPECT_FALSE(run_blocking(t->svc->rotate_key(rotated->key.record.id, 60)));
  EXPECT_FALSE(run_blocking(t->svc->rotate_key("key_nope", 60)));
}

TEST_F(AuthMatrix, RotationByAnotherProcessIsNoticed) {
  auto t = timed_service();
  auto old = create_on(*t->svc);
  ASSERT_EQ(t->status(old.plaintext), 200);
  std::string fresh;
  {
    // What `osprey keys rotate` does: its own connection to keys.db.
    access::KeyStore other(dir, access::resolve_pepper("", dir));
    auto r = other.rotate(old.record.id, 100);
    ASSERT_TRUE(r);
    fresh = r->key.plaintext;
  }
  // The new key works, and the old key's new expiry is in the cache: past
  // the grace it is refused without any reload.
  int last = 0;
  for (int i = 0; i < 100 && (last = t->status(fresh)) != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(last, 200);
  EXPECT_EQ(t->status(old.plaintext), 200);
  t->advance_s(101);
  EXPECT_EQ(t->status(old.plaintext), 401);
  EXPECT_EQ(t->status(fresh), 200);
}
