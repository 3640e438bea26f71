// Rate limits and budgets: exact at the boundary, Retry-After and the
// x-ratelimit-* headers, pre-check/settle of tokens and images, concurrency,
// and budgets that survive a restart (seeded from the ledger).

#include <atomic>

#include "access/access_service.hpp"
#include "access/local_limiter.hpp"
#include "access/middleware.hpp"
#include "access_test_util.hpp"
#include "usage/ledger.hpp"

using namespace osprey;
using namespace osprey::testutil;
using http::Verb;

namespace {

// 2026-11-25T10:00:30.250Z
constexpr std::int64_t kT0 = 1795600830250;

TEST(LimiterMath, WindowsAndRetryAfter) {
  auto w = access::windows_at(kT0);
  EXPECT_EQ(w.minute_reset_ms, 29750);
  EXPECT_EQ(access::retry_after_seconds(access::LimitKind::requests, kT0), 30);  // 29.75 s, rounded up
  EXPECT_EQ(access::retry_after_seconds(access::LimitKind::requests, kT0 + 29749), 1);
  EXPECT_EQ(access::retry_after_seconds(access::LimitKind::concurrency, kT0), 1);
  // 13:59:29.750 left in the UTC day.
  EXPECT_EQ(access::retry_after_seconds(access::LimitKind::tokens_per_day, kT0), 13 * 3600 + 59 * 60 + 30);
  // Until 2026-12-01T00:00:00Z.
  EXPECT_EQ(access::retry_after_seconds(access::LimitKind::usd_per_month, kT0),
            (1796083200000 - kT0 + 999) / 1000);
  EXPECT_EQ(access::format_reset(850), "850ms");
  EXPECT_EQ(access::format_reset(29750), "30s");
  EXPECT_EQ(access::format_reset(60000), "1m0s");
}

TEST(LocalLimiter, ExactAtTheBoundaryAndResetsWithTheWindow) {
  access::LocalLimiter l;
  access::Limits lim;
  lim.rpm = 5;
  for (int i = 0; i < 5; ++i) {
    auto a = l.admit_now("k", lim, {}, kT0 + i);
    ASSERT_TRUE(a.allowed) << i;
    l.settle_now("k", {}, kT0 + i);
  }
  auto denied = l.admit_now("k", lim, {}, kT0 + 10);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.denied_by, access::LimitKind::requests);
  EXPECT_EQ(denied.counters.requests, 5);  // refusals are not counted
  EXPECT_FALSE(l.admit_now("k", lim, {}, kT0 + 29749).allowed);  // last ms of the minute
  EXPECT_TRUE(l.admit_now("k", lim, {}, kT0 + 29750).allowed);   // first ms of the next
  // Other keys are independent.
  EXPECT_TRUE(l.admit_now("other", lim, {}, kT0).allowed);
}

TEST(LocalLimiter, Concurrency) {
  access::LocalLimiter l;
  access::Limits lim;
  lim.concurrency = 2;
  EXPECT_TRUE(l.admit_now("k", lim, {}, kT0).allowed);
  EXPECT_TRUE(l.admit_now("k", lim, {}, kT0).allowed);
  auto a = l.admit_now("k", lim, {}, kT0);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.denied_by, access::LimitKind::concurrency);
  l.settle_now("k", {}, kT0);
  EXPECT_TRUE(l.admit_now("k", lim, {}, kT0).allowed);
  l.abandon("k", "x");
  EXPECT_TRUE(l.admit_now("k", lim, {}, kT0).allowed);
}

class LimitsMiddleware : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("osprey-limits");
    cfg.data_dir = dir;
    cfg.prices["gpt-4o-mini"] = {0.15, 0.60};
    start();
  }
  void start() {
    ledger = std::make_unique<usage::Ledger>(dir);
    access::AccessService::Options opts;
    opts.clock = [this] { return now.load(); };
    svc = std::make_unique<access::AccessService>(cfg, ledger.get(), opts);
    router = std::make_unique<http::Router>();
    access::install_access_middleware(*router, *svc, *ledger);
    // Chat handler: consumes `tokens` (half prompt, half completion).
    router->add({.method = Verb::post,
                 .path = "/chat",
                 .handler = [this](http::Context& ctx) -> http::Awaitable<http::Response> {
                   ctx.usage.model = "gpt-4o-mini";
                   ctx.usage.prompt_tokens = tokens / 2;
                   ctx.usage.completion_tokens = tokens - tokens / 2;
                   ctx.usage.upstream_called = true;
                   co_return http::json_response(ctx, 200, {{"ok", true}});
                 },
                 .scope = "chat"});
    router->add({.method = Verb::post,
                 .path = "/detect",
                 .handler = [](http::Context& ctx) -> http::Awaitable<http::Response> {
                   ctx.usage.model = "yolov8n";
                   ctx.usage.images = 1;
                   co_return http::json_response(ctx, 200, {{"ok", true}});
                 },
                 .scope = "detect"});
  }
  void stop() {
    router.reset();
    svc.reset();
    ledger.reset();
  }
  std::string key_with(access::Limits l) {
    access::KeySpec spec;
    spec.scopes = {"detect", "chat"};
    spec.limits = l;
    boost::asio::io_context ioc;
    auto fut = boost::asio::co_spawn(ioc, svc->create_key(spec), boost::asio::use_future);
    ioc.run();
    return fut.get().plaintext;
  }
  Result post(const std::string& path, const std::string& key) {
    return dispatch(*router, {Verb::post, path, bearer(key)});
  }

  std::string dir;
  config::Config cfg;
  std::atomic<std::int64_t> now{kT0};
  long tokens = 0;
  std::unique_ptr<usage::Ledger> ledger;
  std::unique_ptr<access::AccessService> svc;
  std::unique_ptr<http::Router> router;
};

}  // namespace

TEST_F(LimitsMiddleware, RequestsPerMinuteExactWithHeaders) {
  access::Limits l;
  l.rpm = 3;
  auto key = key_with(l);
  for (int i = 0; i < 3; ++i) {
    auto r = post("/detect", key);
    ASSERT_EQ(r.status(), 200) << i;
    EXPECT_EQ(r.header("x-ratelimit-limit-requests"), "3");
    EXPECT_EQ(r.header("x-ratelimit-remaining-requests"), std::to_string(2 - i));
    EXPECT_EQ(r.header("x-ratelimit-reset-requests"), "30s");
    EXPECT_EQ(r.header("x-ratelimit-limit-tokens"), "");  // no tpm on this key
  }
  auto r = post("/detect", key);
  ASSERT_EQ(r.status(), 429);
  EXPECT_EQ(r.header("Retry-After"), "30");
  EXPECT_EQ(r.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(r.json()["error"]["code"], "rate_limit_exceeded");
  now = kT0 + 29750;  // the next minute
  EXPECT_EQ(post("/detect", key).status(), 200);
}

TEST_F(LimitsMiddleware, TokensPreCheckedAndConsumedAfter) {
  access::Limits l;
  l.tpm = 100;
  auto key = key_with(l);
  tokens = 60;
  auto r1 = post("/chat", key);
  ASSERT_EQ(r1.status(), 200);
  EXPECT_EQ(r1.header("x-ratelimit-remaining-tokens"), "40");  // updated after the handler
  EXPECT_EQ(post("/chat", key).status(), 200);  // 60 < 100 before it ran
  auto r3 = post("/chat", key);                 // 120 >= 100
  EXPECT_EQ(r3.status(), 429);
  EXPECT_EQ(r3.header("x-ratelimit-remaining-tokens"), "0");
  // Token limits do not apply to detection routes.
  EXPECT_EQ(post("/detect", key).status(), 200);
}

TEST_F(LimitsMiddleware, ImagesPerMinute) {
  access::Limits l;
  l.ipm = 2;
  auto key = key_with(l);
  EXPECT_EQ(post("/detect", key).status(), 200);
  auto r = post("/detect", key);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.header("x-ratelimit-remaining-images"), "0");
  EXPECT_EQ(post("/detect", key).status(), 429);
  tokens = 10;
  EXPECT_EQ(post("/chat", key).status(), 200);  // image limits do not apply to chat
}

TEST_F(LimitsMiddleware, CostFromThePriceTableAndUsdBudget) {
  access::Limits l;
  l.usd_per_month = 0.001;  // $0.001
  auto key = key_with(l);
  tokens = 2000;  // 1000 in @0.15/M + 1000 out @0.60/M = $0.00075
  auto r = post("/chat", key);
  ASSERT_EQ(r.status(), 200);
  EXPECT_NEAR(r.usage.cost_usd, 0.00075, 1e-12);
  EXPECT_EQ(post("/chat", key).status(), 200);  // $0.00075 < $0.001
  auto denied = post("/chat", key);             // $0.0015 spent
  EXPECT_EQ(denied.status(), 429);
  EXPECT_EQ(denied.json()["error"]["code"], "insufficient_quota");
  EXPECT_EQ(denied.header("Retry-After"), std::to_string((1796083200000 - kT0 + 999) / 1000));
  EXPECT_NEAR(ledger->totals({}).cost_usd, 0.0015, 1e-12);
}

TEST_F(LimitsMiddleware, BudgetsSurviveARestart) {
  access::Limits l;
  l.tokens_per_day = 100;
  auto key = key_with(l);
  tokens = 60;
  EXPECT_EQ(post("/chat", key).status(), 200);
  EXPECT_EQ(post("/chat", key).status(), 200);
  EXPECT_EQ(post("/chat", key).status(), 429);
  // Restart: a fresh limiter knows nothing, the ledger knows 120 tokens.
  stop();
  now = kT0 + 3600 * 1000;  // an hour later, same UTC day
  start();
  auto r = post("/chat", key);
  EXPECT_EQ(r.status(), 429);
  EXPECT_EQ(r.json()["error"]["code"], "insufficient_quota");
  // The next UTC day starts afresh.
  now = kT0 + 14 * 3600 * 1000;
  EXPECT_EQ(post("/chat", key).status(), 200);
}

TEST_F(LimitsMiddleware, ConcurrencySlotFreedAfterEachRequest) {
  access::Limits l;
  l.concurrency = 1;
  auto key = key_with(l);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post("/detect", key).status(), 200) << i;
}

TEST(LocalLimiter, TakeImagesCountsImagesNotRequests) {
  access::LocalLimiter l;
  access::Limits lim;
  lim.ipm = 2;
  lim.rpm = 1;
  EXPECT_TRUE(l.take_images("k", lim, 1, kT0).allowed);
  auto second = l.take_images("k", lim, 1, kT0);
  EXPECT_TRUE(second.allowed);
  EXPECT_EQ(second.counters.images, 2);
  EXPECT_EQ(second.counters.requests, 0);
  auto third = l.take_images("k", lim, 1, kT0);
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.denied_by, access::LimitKind::images);
  EXPECT_EQ(third.counters.images, 2);  // a refusal counts nothing
  // Uploads share the window; the USD budget also stops frames.
  EXPECT_FALSE(l.admit_now("k", lim, access::Checks{false, true}, kT0).allowed);
  EXPECT_TRUE(l.take_images("k", lim, 1, kT0 + 60000).allowed);
  access::Limits usd;
  usd.usd_per_month = 0.01;
  l.settle_now("p", {0, 0, 0.02}, kT0);
  EXPECT_EQ(l.take_images("p", usd, 1, kT0).denied_by, access::LimitKind::usd_per_month);
}
