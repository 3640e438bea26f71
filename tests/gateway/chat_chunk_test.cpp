#include "gateway/chat_chunk.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace osprey::gateway {
namespace {

TEST(InspectChunk, CountsContentAndToolArguments) {
  auto f = inspect_chunk(R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]})");
  EXPECT_FALSE(f.has_usage);
  EXPECT_EQ(f.text_chars, 5u);
  f = inspect_chunk(R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"get","arguments":"{\"a\":1}"}}]}}]})");
  EXPECT_EQ(f.text_chars, 7u);  // {"a":1} with its quotes unescaped
  // Whitespace around the colon; values that are not strings count nothing.
  f = inspect_chunk("{ \"content\" : \"ab\" , \"x\":{\"content\":null}, \"y\":{\"content\":[1]} }");
  EXPECT_EQ(f.text_chars, 2u);
}

TEST(InspectChunk, EscapesAndMultibyteCharactersCountOnce) {
  EXPECT_EQ(inspect_chunk(R"({"content":"a\nb\"c\\"})").text_chars, 6u);  // a \n b \" c \\ .
  EXPECT_EQ(inspect_chunk(R"({"content":"caf\u00e9!"})").text_chars, 5u);
  EXPECT_EQ(inspect_chunk("{\"content\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}").text_chars, 6u);
}

TEST(InspectChunk, FindsUsageOnlyAsAKeyWithAnObject) {
  EXPECT_TRUE(inspect_chunk(R"({"choices":[],"usage":{"prompt_tokens":1}})").has_usage);
  EXPECT_TRUE(inspect_chunk(R"({"usage" : {"total_tokens":3}})").has_usage);
  EXPECT_FALSE(inspect_chunk(R"({"choices":[],"usage":null})").has_usage);
  // The word in a string, or a key-like text inside a string value.
  EXPECT_FALSE(inspect_chunk(R"({"content":"usage"})").has_usage);
  EXPECT_FALSE(inspect_chunk(R"({"content":"\"usage\":{}"})").has_usage);
  EXPECT_EQ(inspect_chunk(R"({"content":"\"usage\":{}"})").text_chars, 10u);  // \" usage \" : { }
  // A "content" key inside a string value is text, not a key.
  EXPECT_EQ(inspect_chunk(R"({"x":"\"content\":\"zzzz\"","content":"ab"})").text_chars, 2u);
}

TEST(InspectChunk, TruncatedOrHostileInputStaysInBounds) {
  const std::string whole = R"({"choices":[{"delta":{"content":"h\u00e9llo \\ \"x\""}}],"usage":{"a":1}})";
  for (std::size_t n = 0; n <= whole.size(); ++n) {
    // A copy of exactly n bytes: ASan flags any read past it.
    std::string cut = whole.substr(0, n);
    cut.shrink_to_fit();
    auto f = inspect_chunk(cut);
    EXPECT_LE(f.text_chars, n);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = "\"\\:{}u, content"[rng() % 15];
    auto f = inspect_chunk(junk);
    EXPECT_LE(f.text_chars, junk.size());
  }
}

// The SIMD paths (32 places a block with AVX2, 16 with SSE2) against the
// byte-at-a-time one, on text dense in quotes and backslashes, so that
// escapes fall on every position of a block, across block ends included.
TEST(InspectChunk, BlockWalkAgreesWithByteWalk) {
  std::mt19937 rng(11);
  const std::string pieces[] = {"\"", "\\", "\\\\", "\\\"", ":", "{", "}", " ", "a", "\xc3\xa9",
                                "\"content\":", "\"arguments\": ", "\"usage\":", "\\u00e9", "\"x\""};
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) text += pieces[rng() % std::size(pieces)];
    text.shrink_to_fit();
    const auto a = inspect_chunk(text), b = detail::inspect_chunk_bytewise(text), c = detail::inspect_chunk_sse2(text);
    ASSERT_EQ(a.has_usage, b.has_usage) << text;
    ASSERT_EQ(a.text_chars, b.text_chars) << text;
    ASSERT_EQ(c.has_usage, b.has_usage) << text;
    ASSERT_EQ(c.text_chars, b.text_chars) << text;
  }
  // Real chunks, shifted across block boundaries by a leading blank.
  const std::string chunk = R"({"choices":[{"delta":{"content":"a \"quoted\" word\\"},"x":"\\\\"}],"usage":{"a":1}})";
  for (std::size_t pad = 0; pad < 140; ++pad) {
    const std::string text = std::string(pad, ' ') + chunk;
    const auto a = inspect_chunk(text), b = detail::inspect_chunk_bytewise(text), c = detail::inspect_chunk_sse2(text);
    EXPECT_TRUE(a.has_usage);
    EXPECT_EQ(a.text_chars, 16u);  // a "quoted" word\ (the escapes count once)
    EXPECT_EQ(b.text_chars, a.text_chars);
    EXPECT_TRUE(c.has_usage);
    EXPECT_EQ(c.text_chars, a.text_chars);
  }
  // Runs of backslashes of every length, ending on every position of a
  // block: whether the quote after them is real decides what follows.
  for (std::size_t pad = 0; pad < 70; ++pad)
    for (std::size_t run = 0; run < 6; ++run) {
      const std::string text = std::string(pad, ' ') + R"({"x":"a)" + std::string(run, '\\') +
                               R"(","content":"bc","usage":{}})";
      const auto a = inspect_chunk(text), b = detail::inspect_chunk_bytewise(text), c = detail::inspect_chunk_sse2(text);
      ASSERT_EQ(a.has_usage, b.has_usage) << text;
      ASSERT_EQ(a.text_chars, b.text_chars) << text;
      ASSERT_EQ(c.has_usage, b.has_usage) << text;
      ASSERT_EQ(c.text_chars, b.text_chars) << text;
      if (run % 2 == 0) {
        EXPECT_TRUE(a.has_usage) << text;
        EXPECT_EQ(a.text_chars, 2u) << text;
      }
    }
}

}  // namespace
}  // namespace osprey::gateway
