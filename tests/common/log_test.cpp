#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/log.hpp"

using namespace osprey;

TEST(Log, RedactReplacesEverySecretOccurrence) {
  log::forget_all_secrets();
  log::register_secret("sk-test-abcdef123456");
  log::register_secret("short");  // too short to redact safely: ignored
  EXPECT_EQ(log::redact("key sk-test-abcdef123456 and sk-test-abcdef123456 short"),
            "key [REDACTED] and [REDACTED] short");
  log::forget_all_secrets();
  EXPECT_EQ(log::redact("sk-test-abcdef123456"), "sk-test-abcdef123456");
}

TEST(Log, LogLinesAreRedactedAtTheSink) {
  std::string path = ::testing::TempDir() + "/osprey-log-test.log";
  std::remove(path.c_str());
  log::init("info", path);
  log::register_secret("sk-live-0123456789abcdef");
  spdlog::info("calling upstream with key {}", "sk-live-0123456789abcdef");
  spdlog::debug("not shown {}", "sk-live-0123456789abcdef");
  log::flush();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  EXPECT_NE(text.find("calling upstream with key [REDACTED]"), std::string::npos) << text;
  EXPECT_EQ(text.find("sk-live-0123456789abcdef"), std::string::npos) << text;
  EXPECT_EQ(text.find("not shown"), std::string::npos);
  log::forget_all_secrets();
}

TEST(Log, UnknownLevelIsRejected) { EXPECT_THROW(log::init("loud"), std::invalid_argument); }
