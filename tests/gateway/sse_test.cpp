#include "gateway/sse.hpp"

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace osprey::gateway {
namespace {

// An event copied out of the parser (its data view lasts one feed()).
struct Event {
  std::string event, data, id;
};

// Feeds `bytes` and appends copies of the events it completes to `all`.
void feed_into(SseParser& p, std::string_view bytes, std::vector<Event>& all) {
  p.feed(bytes, [&all](const SseEvent& e) { all.push_back({e.event, std::string(e.data), e.id}); });
}

std::vector<Event> parse_all(std::string_view text) {
  SseParser p;
  std::vector<Event> out;
  feed_into(p, text, out);
  return out;
}

TEST(SseParser, BasicEventsAndFields) {
  auto ev = parse_all("data: a\n\nevent: error\ndata: {\"x\":1}\nid: 7\n\n: comment\n\ndata:no-space\n\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "a");
  EXPECT_EQ(ev[1].event, "error");
  EXPECT_EQ(ev[1].data, "{\"x\":1}");
  EXPECT_EQ(ev[1].id, "7");
  EXPECT_EQ(ev[2].data, "no-space");
}

TEST(SseParser, MultiLineDataAndLineEndings) {
  auto ev = parse_all("data: one\r\ndata: two\r\n\r\ndata: three\rdata:  four\r\r");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "one\ntwo");
  EXPECT_EQ(ev[1].data, "three\n four");
}

TEST(SseParser, IncompleteEventIsHeldBack) {
  SseParser p;
  std::vector<Event> out;
  // The bytes a feed() was given may be gone before the event completes.
  std::string read = "data: [DO";
  feed_into(p, read, out);
  EXPECT_TRUE(out.empty());
  read = "NE]\n";
  feed_into(p, read, out);
  EXPECT_TRUE(out.empty());
  read.assign("\n\0\0\0", 4);  // the same buffer, overwritten
  feed_into(p, std::string_view(read).substr(0, 1), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "[DONE]");
}

TEST(SseParser, EventsWithoutDataAreDropped) {
  EXPECT_TRUE(parse_all("event: ping\n\n:keepalive\n\n\n\n").empty());
}

const std::string kStream =
    "data: {\"choices\":[{\"delta\":{\"content\":\"h\\u00e9llo\"}}]}\r\n\r\n"
    ": keep-alive\n\n"
    "data: {\"a\":1}\n"
    "data: {\"b\":2}\n\n"
    "event: x\r"
    "data: caf\xc3\xa9\r\r"
    "data: [DONE]\n\n";

TEST(SseParser, EverySplitPointGivesTheSameEvents) {
  auto whole = parse_all(kStream);
  ASSERT_EQ(whole.size(), 4u);
  for (std::size_t i = 0; i <= kStream.size(); ++i) {
    for (std::size_t j = i; j <= kStream.size(); ++j) {
      SseParser p;
      std::vector<Event> out;
      feed_into(p, std::string_view(kStream).substr(0, i), out);
      feed_into(p, std::string_view(kStream).substr(i, j - i), out);
      feed_into(p, std::string_view(kStream).substr(j), out);
      ASSERT_EQ(out.size(), whole.size()) << i << "," << j;
      for (std::size_t k = 0; k < out.size(); ++k) {
        EXPECT_EQ(out[k].data, whole[k].data) << i << "," << j;
        EXPECT_EQ(out[k].event, whole[k].event);
      }
    }
  }
}

TEST(SseParser, ByteByByte) {
  SseParser p;
  std::vector<Event> out;
  // One reused byte of buffer, as a socket read into the same buffer.
  char buf;
  for (char c : kStream) {
    buf = c;
    feed_into(p, std::string_view(&buf, 1), out);
  }
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(out.back().data, "[DONE]");
}

// Whole reads take the usual "data: X\n\n" events at once; a byte at a
// time never can: on random streams of events, fields, comments and line
// ends both give the same events.
TEST(SseParser, WholeEventsTakenAtOnceMatchTheLineByLinePath) {
  std::mt19937 rng(9);
  const std::string pieces[] = {"data: x\n\n", "data:y\n\n", "data: \n\n", "data: a\n", "event: e\n", "id: 3\n",
                                ": c\n",        "\n",           "\r\n",       "data: b\r\n\r\n", "data\n\n", "dat",
                                "a: z\n\n"};
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) text += pieces[rng() % std::size(pieces)];
    const auto whole = parse_all(text);
    SseParser p;
    std::vector<Event> bytewise;
    for (char c : text) feed_into(p, std::string_view(&c, 1), bytewise);
    ASSERT_EQ(whole.size(), bytewise.size()) << text;
    for (std::size_t k = 0; k < whole.size(); ++k) {
      EXPECT_EQ(whole[k].data, bytewise[k].data) << text;
      EXPECT_EQ(whole[k].event, bytewise[k].event) << text;
      EXPECT_EQ(whole[k].id, bytewise[k].id) << text;
    }
  }
}

TEST(SseParser, RandomGarbageNeverCrashesAndIsBounded) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    SseParser p(4096);
    std::string junk(rng() % 3000, '\0');
    for (auto& c : junk) c = "data: \r\n:x{}"[rng() % 13];
    try {
      for (std::size_t i = 0; i < junk.size();) {
        std::size_t n = 1 + rng() % 64;
        p.feed(std::string_view(junk).substr(i, n), [](const SseEvent& e) { EXPECT_LE(e.data.size(), 4096u); });
        i += n;
      }
    } catch (const std::length_error&) {
    }
  }
}

TEST(SseParser, OversizedEventThrows) {
  SseParser p(100);
  std::vector<Event> out;
  EXPECT_THROW(feed_into(p, "data: " + std::string(200, 'x'), out), std::length_error);
  SseParser q(100);
  EXPECT_THROW(
      {
        for (int i = 0; i < 50; ++i) feed_into(q, "data: xxxx\n", out);
      },
      std::length_error);
  // A throw leaves nothing behind: the parser starts afresh.
  EXPECT_TRUE(out.empty());
  feed_into(q, "data: ok\n\n", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "ok");
}

TEST(SseParser, AThrowingCallbackLeavesTheParserUsable) {
  SseParser p;
  std::vector<Event> out;
  EXPECT_THROW(p.feed("data: a\n\ndata: b", [](const SseEvent&) { throw std::runtime_error("client gone"); }),
               std::runtime_error);
  feed_into(p, "data: c\n\n", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "c");  // what the failed call held is dropped
}

}  // namespace
}  // namespace osprey::gateway
