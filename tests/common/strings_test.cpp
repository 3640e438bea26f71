#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/strings.hpp"

using namespace osprey;

TEST(Strings, Base64RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    auto enc = str::base64_encode(data);
    EXPECT_EQ(enc.size() % 4, 0u);
    auto dec = str::base64_decode(enc);
    ASSERT_TRUE(dec) << i;
    EXPECT_EQ(*dec, data);
    data.push_back(static_cast<char>(i * 37));
  }
}

TEST(Strings, Base64KnownVectors) {
  EXPECT_EQ(str::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(str::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(*str::base64_decode("Zm8"), "fo");  // missing padding tolerated
  EXPECT_EQ(*str::base64_decode("Zm9v\nYmFy"), "foobar");
}

TEST(Strings, Base64RejectsGarbage) {
  EXPECT_FALSE(str::base64_decode("Zm9v!mFy"));
  EXPECT_FALSE(str::base64_decode("Zm8=Zm8="));  // data after padding
  EXPECT_FALSE(str::base64_decode("Z"));         // dangling sextet
}

TEST(Strings, PercentDecode) {
  EXPECT_EQ(*str::percent_decode("a%20b+c"), "a b c");
  EXPECT_EQ(*str::percent_decode("a+b", false), "a+b");
  EXPECT_FALSE(str::percent_decode("%2"));
  EXPECT_FALSE(str::percent_decode("%zz"));
  EXPECT_FALSE(str::percent_decode("abc%"));
}

TEST(Strings, SplitTrimLower) {
  auto parts = str::split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(str::trim("  x \t"), "x");
  EXPECT_EQ(str::lower("AbC"), "abc");
  EXPECT_TRUE(str::iequals("Content-Type", "content-type"));
  EXPECT_FALSE(str::iequals("a", "ab"));
  // ASCII only: the bytes around the letters and non-ASCII bytes are compared as they are.
  EXPECT_FALSE(str::iequals("@", "`"));
  EXPECT_FALSE(str::iequals("[", "{"));
  EXPECT_FALSE(str::iequals("\xc3\x89", "\xc3\xa9"));
  EXPECT_EQ(str::lower("Z@[`{\xc3\x89"), "z@[`{\xc3\x89");
}

TEST(Strings, FindAgreesWithStringViewFind) {
  const std::string_view hay = "data: {\"usage\":null,\"sk-\":\"sk-abc sk-abcdef\"}";
  for (std::string_view needle : {"sk-abcdef", "sk-", "\"usage\":null", "absent", "}", "d", ""}) {
    for (std::size_t from : {std::size_t{0}, std::size_t{5}, std::size_t{30}, hay.size(), hay.size() + 1}) {
      EXPECT_EQ(str::find(hay, needle, from), hay.find(needle, from)) << needle << " from " << from;
    }
  }
  EXPECT_TRUE(str::contains(hay, "sk-abcdef"));
  EXPECT_FALSE(str::contains("", "x"));
  EXPECT_TRUE(str::contains("x", ""));
}

// The SIMD search (16 start positions a block) on random text over a small
// alphabet, so that first-and-last-byte matches that are not the needle
// fall everywhere in a block, and the end of the text cuts blocks at every
// length. Exact-size copies: ASan sees any read past the end.
TEST(Strings, FindAgreesOnRandomText) {
  std::mt19937 rng(5);
  for (int round = 0; round < 3000; ++round) {
    std::string hay(rng() % 120, '\0');
    for (auto& c : hay) c = "ab\"s"[rng() % 4];
    std::string needle;
    if (!hay.empty() && rng() % 2) {
      const std::size_t at = rng() % hay.size();
      needle = hay.substr(at, 1 + rng() % 24);
    } else {
      needle.resize(1 + rng() % 6);
      for (auto& c : needle) c = "ab\"s"[rng() % 4];
    }
    hay.shrink_to_fit();
    needle.shrink_to_fit();
    for (std::size_t from = 0; from <= hay.size() + 1; from += 1 + rng() % 7)
      ASSERT_EQ(str::find(hay, needle, from), std::string_view(hay).find(needle, from)) << hay << " / " << needle << " from " << from;
  }
}
