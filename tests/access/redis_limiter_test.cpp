// Limits shared through a real Redis: three limiter instances (as three
// replicas would have) must together admit exactly the limit, also when
// they race from several threads; Redis going away must fail closed (503)
// or open, as configured.


#include <atomic>
#include <thread>

#include "access/access_service.hpp"
#include "access/middleware.hpp"
#include "access/redis_client.hpp"
#include "access/redis_limiter.hpp"
#include "access_test_util.hpp"
#include "redis_server.hpp"
#include "usage/ledger.hpp"

using namespace osprey;
using namespace osprey::access;
using namespace osprey::testutil;

namespace {

constexpr std::int64_t kT0 = 1795600830250;  // 2026-11-25T10:00:30.250Z

}  // namespace

TEST(RedisEndpoint, ParsesUrls) {
  auto ep = RedisEndpoint::parse("redis://:s3cret-pass@cache.internal:6380/2");
  EXPECT_EQ(ep.host, "cache.internal");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.db, 2);
  EXPECT_EQ(ep.password, "s3cret-pass");
  EXPECT_EQ(ep.describe(), "cache.internal:6380/2");
  EXPECT_EQ(RedisEndpoint::parse("redis://localhost").port, 6379);
  EXPECT_THROW(RedisEndpoint::parse("http://x:1"), std::invalid_argument);
  EXPECT_THROW(RedisEndpoint::parse("redis://x:notaport"), std::invalid_argument);
  EXPECT_THROW(RedisEndpoint::parse("redis://x:1/db"), std::invalid_argument);
  EXPECT_THROW(RedisEndpoint::parse("redis://:70000"), std::invalid_argument);
}

TEST(RedisLimiter, ThreeReplicasAdmitExactlyTheLimit) {
  RedisServer redis;
  std::vector<std::unique_ptr<RedisLimiter>> replicas;
  for (int i = 0; i < 3; ++i)
    replicas.push_back(std::make_unique<RedisLimiter>(std::make_shared<RedisClient>(redis.endpoint())));
  Limits l;
  l.rpm = 10;
  int allowed = 0;
  for (int i = 0; i < 30; ++i) {
    auto a = replicas[i % 3]->admit_sync("key_rr", l, "r" + std::to_string(i), {}, kT0 + i);
    if (a.allowed) {
      ++allowed;
      replicas[i % 3]->settle_sync("key_rr", "r" + std::to_string(i), {}, kT0 + i);
    } else {
      EXPECT_EQ(a.denied_by, LimitKind::requests);
    }
    EXPECT_EQ(a.allowed, i < 10) << i;
  }
  EXPECT_EQ(allowed, 10);
  // The next minute opens again, for every replica.
  EXPECT_TRUE(replicas[2]->admit_sync("key_rr", l, "next", {}, kT0 + 29750).allowed);
}

TEST(RedisLimiter, RacingThreadsNeverOverAdmit) {
  RedisServer redis;
  Limits l;
  l.rpm = 40;
  l.concurrency = 1000;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      RedisLimiter lim(std::make_shared<RedisClient>(redis.endpoint()));
      for (int i = 0; i < 50; ++i) {
        auto id = std::to_string(t) + "-" + std::to_string(i);
        if (lim.admit_sync("key_race", l, id, {}, kT0).allowed) {
          ++allowed;
          lim.settle_sync("key_race", id, {}, kT0);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 40);
}

TEST(RedisLimiter, TokensBudgetsAndConcurrencyAcrossReplicas) {
  RedisServer redis;
  RedisLimiter a(std::make_shared<RedisClient>(redis.endpoint()));
  RedisLimiter b(std::make_shared<RedisClient>(redis.endpoint()));
  Limits l;
  l.tpm = 100;
  l.tokens_per_day = 150;
  l.concurrency = 2;
  Checks chat{true, false};
  ASSERT_TRUE(a.admit_sync("k", l, "1", chat, kT0).allowed);
  ASSERT_TRUE(b.admit_sync("k", l, "2", chat, kT0).allowed);
  auto third = a.admit_sync("k", l, "3", chat, kT0);
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.denied_by, LimitKind::concurrency);
  auto c = a.settle_sync("k", "1", {70, 0, 0}, kT0);
  EXPECT_EQ(c.tokens, 70);
  EXPECT_EQ(c.in_flight, 1);
  b.settle_sync("k", "2", {40, 0, 0}, kT0);  // 110 this minute
  auto d = b.admit_sync("k", l, "4", chat, kT0 + 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.denied_by, LimitKind::tokens);
  // Next minute: tpm resets, but the day budget (110 + 50 >= 150) then binds.
  ASSERT_TRUE(a.admit_sync("k", l, "5", chat, kT0 + 60000).allowed);
  a.settle_sync("k", "5", {50, 0, 0}, kT0 + 60000);
  auto e = b.admit_sync("k", l, "6", chat, kT0 + 60001);
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(e.denied_by, LimitKind::tokens_per_day);
  // A replica that dies mid-request holds its slot only until the lease ends.
  RedisLimiter short_lease(std::make_shared<RedisClient>(redis.endpoint()), 1000);
  Limits one;
  one.concurrency = 1;
  ASSERT_TRUE(short_lease.admit_sync("k2", one, "lost", {}, kT0).allowed);
  EXPECT_FALSE(short_lease.admit_sync("k2", one, "x", {}, kT0 + 500).allowed);
  EXPECT_TRUE(short_lease.admit_sync("k2", one, "y", {}, kT0 + 1001).allowed);
}

TEST(RedisLimiter, SurvivesScriptFlush) {
  RedisServer redis;
  auto client = std::make_shared<RedisClient>(redis.endpoint());
  RedisLimiter lim(client);
  Limits l;
  l.rpm = 5;
  ASSERT_TRUE(lim.admit_sync("k", l, "1", {}, kT0).allowed);
  client->command_sync({"SCRIPT", "FLUSH"});
  auto a = lim.admit_sync("k", l, "2", {}, kT0);  // NOSCRIPT -> EVAL
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.counters.requests, 2);
}

namespace {
std::unique_ptr<http::Router> make_router(AccessService& svc, usage::Ledger& ledger) {
  auto r = std::make_unique<http::Router>();
  install_access_middleware(*r, svc, ledger);
  r->add({.method = http::Verb::post,
         .path = "/detect",
         .handler = [](http::Context& ctx) -> http::Awaitable<http::Response> {
           co_return http::json_response(ctx, 200, {{"ok", true}});
         },
         .scope = "detect"});
  return r;
}
}  // namespace

TEST(RedisLimiter, MiddlewareAcrossThreeServicesAndFailClosed) {
  RedisServer redis;
  auto dir = temp_dir("osprey-redis");
  config::Config cfg;
  cfg.data_dir = dir;
  cfg.access.redis_url = redis.url();
  cfg.access.bootstrap_admin_key = "shared-admin-key-for-the-redis-test";
  usage::Ledger ledger(dir);
  AccessService s1(cfg, &ledger), s2(cfg, &ledger), s3(cfg, &ledger);
  auto r1 = make_router(s1, ledger), r2 = make_router(s2, ledger), r3 = make_router(s3, ledger);
  const http::Router* routers[] = {r1.get(), r2.get(), r3.get()};

  access::KeySpec spec;
  spec.scopes = {"detect"};
  spec.limits.rpm = 7;
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, s1.create_key(spec), boost::asio::use_future);
  ioc.run();
  auto key = fut.get().plaintext;
  s2.reload();
  s3.reload();

  int ok = 0, limited = 0;
  for (int i = 0; i < 21; ++i) {
    auto r = dispatch(*routers[i % 3], {http::Verb::post, "/detect", bearer(key)}, "req-" + std::to_string(i));
    if (r.status() == 200) ++ok;
    if (r.status() == 429) {
      ++limited;
      EXPECT_FALSE(r.header("Retry-After").empty());
    }
  }
  // The wall clock may cross a minute boundary mid-test; then up to 14 pass.
  EXPECT_GE(ok, 7);
  EXPECT_LE(ok, 14);
  EXPECT_EQ(ok + limited, 21);

  redis.stop();
  auto down = dispatch(*r1, {http::Verb::post, "/detect", bearer(key)});
  EXPECT_EQ(down.status(), 503);
  EXPECT_EQ(down.json()["error"]["code"], "limiter_unavailable");

  config::Config open_cfg = cfg;
  open_cfg.access.redis_fail_open = true;
  AccessService open(open_cfg, &ledger);
  auto ro = make_router(open, ledger);
  EXPECT_EQ(dispatch(*ro, {http::Verb::post, "/detect", bearer(key)}).status(), 200);
  // Keys without limits never need Redis.
  EXPECT_EQ(dispatch(*r1, {http::Verb::post, "/detect", bearer(cfg.access.bootstrap_admin_key)}).status(), 200);
}

// Stream frames: take_images counts images (not requests) against ipm,
// shared by replicas and with uploads, and refuses once the minute's are spent.
TEST(RedisLimiter, TakeImagesSharesTheImagesWindowAcrossReplicas) {
  RedisServer redis;
  RedisLimiter a(std::make_shared<RedisClient>(redis.endpoint()));
  RedisLimiter b(std::make_shared<RedisClient>(redis.endpoint()));
  Limits l;
  l.ipm = 3;
  l.rpm = 1;
  EXPECT_TRUE(a.take_images("k", l, 1, kT0).allowed);
  EXPECT_TRUE(b.take_images("k", l, 1, kT0).allowed);
  auto third = a.take_images("k", l, 1, kT0);
  EXPECT_TRUE(third.allowed);
  EXPECT_EQ(third.counters.images, 3);
  EXPECT_EQ(third.counters.requests, 0);  // frames are not requests: rpm untouched
  auto fourth = b.take_images("k", l, 1, kT0 + 1);
  EXPECT_FALSE(fourth.allowed);
  EXPECT_EQ(fourth.denied_by, LimitKind::images);
  // An upload of the same key is refused too, and the next minute is fresh.
  EXPECT_FALSE(a.admit_sync("k", l, "u", Checks{false, true}, kT0 + 2).allowed);
  EXPECT_TRUE(b.take_images("k", l, 1, kT0 + 60000).allowed);
}
