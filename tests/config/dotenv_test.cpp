#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/dotenv.hpp"

using namespace osprey::config;

TEST(Dotenv, ParsesTheUsualForms) {
  auto v = parse_dotenv(
      "# comment\n"
      "\n"
      "A=plain\n"
      "export B = spaced  # trailing comment\n"
      "C='single # not a comment'\n"
      "D=\"double\\nline \\\"q\\\"\"\r\n"
      "E=\n"
      "A=override\n");
  EXPECT_EQ(v["A"], "override");
  EXPECT_EQ(v["B"], "spaced");
  EXPECT_EQ(v["C"], "single # not a comment");
  EXPECT_EQ(v["D"], "double\nline \"q\"");
  EXPECT_EQ(v["E"], "");
}

TEST(Dotenv, RejectsMalformedLines) {
  EXPECT_THROW(parse_dotenv("JUSTAKEY\n"), ConfigError);
  EXPECT_THROW(parse_dotenv("1BAD=x\n"), ConfigError);
  EXPECT_THROW(parse_dotenv("A=\"unterminated\n"), ConfigError);
  EXPECT_THROW(parse_dotenv("A='x' trailing\n"), ConfigError);
}
