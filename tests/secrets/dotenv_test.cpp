#include "secrets/dotenv.hpp"

#include <gtest/gtest.h>

#include "test_env.hpp"

namespace osprey::secrets {
namespace {

TEST(DotEnv, ParsesTheCommonDialect) {
  auto env = DotEnv::parse(
      "# a comment\n"
      "\n"
      "PLAIN=value\n"
      "  SPACED  =  padded value  \n"
      "export EXPORTED=yes\n"
      "DQ=\"two\\nlines \\\"quoted\\\" # not a comment\"\n"
      "SQ='literal \\n # kept'\n"
      "INLINE=abc # trailing comment\n"
      "HASH=a#b\n"
      "EMPTY=\n"
      "CRLF=win\r\n"
      "URL=https://x.example/?a=b=c\n");
  EXPECT_TRUE(env.warnings.empty());
  EXPECT_EQ(env.get("PLAIN"), "value");
  EXPECT_EQ(env.get("SPACED"), "padded value");
  EXPECT_EQ(env.get("EXPORTED"), "yes");
  EXPECT_EQ(env.get("DQ"), "two\nlines \"quoted\" # not a comment");
  EXPECT_EQ(env.get("SQ"), "literal \\n # kept");
  EXPECT_EQ(env.get("INLINE"), "abc");
  EXPECT_EQ(env.get("HASH"), "a#b");
  EXPECT_EQ(env.get("EMPTY"), "");
  EXPECT_EQ(env.get("CRLF"), "win");
  EXPECT_EQ(env.get("URL"), "https://x.example/?a=b=c");
  EXPECT_FALSE(env.get("MISSING"));
}

TEST(DotEnv, BadLinesAreSkippedWithoutEchoingThem) {
  auto env = DotEnv::parse("GOOD=1\nsk-secret-looking-line\n1BAD=x\nOPEN=\"unterminated sk-zzz\nLAST=2\n");
  EXPECT_EQ(env.get("GOOD"), "1");
  EXPECT_EQ(env.get("LAST"), "2");
  EXPECT_FALSE(env.get("OPEN"));
  ASSERT_EQ(env.warnings.size(), 3u);
  for (const auto& w : env.warnings) {
    EXPECT_EQ(w.find("sk-"), std::string::npos) << w;
  }
  EXPECT_NE(env.warnings[0].find(":2:"), std::string::npos);
}

TEST(DotEnv, MissingFileIsEmpty) {
  auto env = DotEnv::load("/nonexistent/osprey/.env");
  EXPECT_FALSE(env.loaded);
  EXPECT_TRUE(env.values.empty());
  EXPECT_TRUE(env.warnings.empty());
}

TEST(DotEnv, WarnsWhenGroupOrWorldCanRead) {
  auto dir = test::temp_dir();
  auto tight = DotEnv::load(test::write_file(dir + "/tight.env", "A=1\n", 0600));
  EXPECT_TRUE(tight.warnings.empty());
  EXPECT_EQ(tight.get("A"), "1");
  auto loose = DotEnv::load(test::write_file(dir + "/loose.env", "A=1\n", 0644));
  ASSERT_EQ(loose.warnings.size(), 1u);
  EXPECT_NE(loose.warnings[0].find("chmod 600"), std::string::npos);
  EXPECT_NE(loose.warnings[0].find("644"), std::string::npos);
  EXPECT_EQ(loose.get("A"), "1");  // still used
  auto group = DotEnv::load(test::write_file(dir + "/group.env", "A=1\n", 0640));
  EXPECT_EQ(group.warnings.size(), 1u);
}

}  // namespace
}  // namespace osprey::secrets
