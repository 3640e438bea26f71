#include "gateway/base_url.hpp"

#include <gtest/gtest.h>

namespace osprey::gateway {
namespace {

TEST(BaseUrl, Parses) {
  auto u = BaseUrl::parse("https://api.openai.com/v1");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "api.openai.com");
  EXPECT_EQ(u.port, "443");
  EXPECT_EQ(u.target("/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(u.host_header(), "api.openai.com");
  EXPECT_FALSE(u.host_is_ip);
  auto l = BaseUrl::parse("http://127.0.0.1:18090/sse/v1/");
  EXPECT_FALSE(l.tls);
  EXPECT_EQ(l.port, "18090");
  EXPECT_EQ(l.prefix, "/sse/v1");
  EXPECT_EQ(l.host_header(), "127.0.0.1:18090");
  EXPECT_TRUE(l.host_is_ip);
  auto v6 = BaseUrl::parse("https://[::1]:8443");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.host_header(), "[::1]:8443");
  EXPECT_EQ(v6.prefix, "");
}

TEST(BaseUrl, RejectsWhatItCannotUse) {
  for (const char* bad : {"ftp://x", "api.openai.com/v1", "https://", "https://u:p@host/v1", "https://h:abc/", "https://h/v1?x=1"})
    EXPECT_THROW(BaseUrl::parse(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace osprey::gateway
