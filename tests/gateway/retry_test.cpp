#include "gateway/retry.hpp"

#include <gtest/gtest.h>

#include "gateway/key_ring.hpp"
#include "gateway/upstream_error.hpp"

namespace osprey::gateway {
namespace {

using namespace std::chrono_literals;

TEST(Retry, BackoffIsFullJitterUnderAnExponentialCeiling) {
  for (int attempt = 1; attempt <= 8; ++attempt) {
    long long ceiling = std::min<long long>(100LL << (attempt - 1), 2000);
    long long max_seen = 0;
    for (int i = 0; i < 300; ++i) {
      long long d = backoff_delay(attempt, 100ms, 2000ms).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      max_seen = std::max(max_seen, d);
    }
    EXPECT_GT(max_seen, ceiling / 2);  // really spread over the range
  }
}

TEST(Retry, RetryAfterForms) {
  auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(parse_retry_hint("2", ""), 2000ms);
  EXPECT_EQ(parse_retry_hint("1.5", ""), 1500ms);
  EXPECT_EQ(parse_retry_hint("2", "250"), 250ms);  // retry-after-ms wins
  EXPECT_EQ(parse_retry_hint("Wed, 21 Oct 2015 07:28:30 GMT", "", now), 30000ms);
  EXPECT_EQ(parse_retry_hint("Wed, 21 Oct 2015 07:27:00 GMT", "", now), 0ms);  // past
  EXPECT_EQ(parse_retry_hint("-3", ""), 0ms);
  EXPECT_FALSE(parse_retry_hint("", ""));
  EXPECT_FALSE(parse_retry_hint("soon", "later"));
  EXPECT_FALSE(parse_retry_hint("12abc", ""));
  EXPECT_EQ(parse_retry_hint("99999999999", ""), std::chrono::milliseconds(24LL * 3600 * 1000));
}

TEST(KeyRing, RoundRobinAndFailover) {
  KeyRing ring({"k0", "k1", "k2"});
  std::vector<int> seen(3);
  for (int i = 0; i < 30; ++i) seen[ring.pick()]++;
  EXPECT_EQ(seen, (std::vector<int>{10, 10, 10}));
  ring.rest(1, 60s);
  for (int i = 0; i < 30; ++i) EXPECT_NE(ring.pick(), 1u);
  ring.rest(0, 60s);
  ring.rest(2, 30s);
  EXPECT_EQ(ring.pick(), 2u);  // all resting: the first to recover
}

TEST(UpstreamError, MapsOpenAiShapedBodies) {
  auto e = map_upstream_error(429, R"({"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded","param":null}})", "20");
  EXPECT_EQ(e.status(), 429);
  EXPECT_STREQ(e.what(), "Rate limit");
  EXPECT_EQ(e.type(), "requests");
  EXPECT_EQ(e.code(), "rate_limit_exceeded");
  ASSERT_EQ(e.headers.size(), 1u);
  EXPECT_EQ(e.headers[0].second, "20");
  auto plain = map_upstream_error(502, "<html>bad gateway</html>");
  EXPECT_EQ(plain.type(), "api_error");
  EXPECT_EQ(std::string(plain.what()).find("html"), std::string::npos);
  auto str_err = map_upstream_error(400, R"({"error":"bad thing"})");
  EXPECT_STREQ(str_err.what(), "bad thing");
  EXPECT_EQ(str_err.type(), "invalid_request_error");
  EXPECT_EQ(map_upstream_error(401, "{}").type(), "authentication_error");
}

}  // namespace
}  // namespace osprey::gateway
