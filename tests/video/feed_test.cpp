// Feed: items published from another thread reach coroutine subscribers in
// order; a slow subscriber keeps the newest `capacity` items and counts the
// rest; idle, close and stop end waits as documented.

#include <utility>  // before Asio (g++ 12)

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

#include "video/feed.hpp"

using osprey::video::Feed;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

Feed::Item item(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

struct Collected {
  std::vector<std::string> items;
  std::uint64_t dropped = 0;
  int idles = 0;
  bool closed = false;
};

asio::awaitable<void> collect(std::shared_ptr<Feed::Subscriber> sub, Collected& out, int max_idles) {
  for (;;) {
    auto n = co_await sub->next(50ms);
    out.dropped = n.dropped;
    if (n.kind == Feed::Next::closed) {
      out.closed = true;
      co_return;
    }
    if (n.kind == Feed::Next::idle) {
      if (++out.idles >= max_idles) co_return;
      continue;
    }
    out.items.push_back(*n.data);
  }
}

TEST(Feed, ItemsFromAnotherThreadArriveInOrderThenClosed) {
  asio::io_context io;
  Feed feed(64);
  auto sub = feed.subscribe(io.get_executor());
  EXPECT_EQ(feed.subscribers(), 1u);
  Collected got;
  asio::co_spawn(io, collect(sub, got, 1000), asio::detached);
  std::thread producer([&] {
    for (int i = 0; i < 20; ++i) {
      feed.publish(item(std::to_string(i)));
      std::this_thread::sleep_for(1ms);
    }
    feed.close();
  });
  io.run();
  producer.join();
  ASSERT_EQ(got.items.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got.items[i], std::to_string(i));
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.dropped, 0u);
}

TEST(Feed, ASlowSubscriberKeepsTheNewestAndCountsTheRest) {
  asio::io_context io;
  Feed feed(3);
  auto sub = feed.subscribe(io.get_executor());
  for (int i = 0; i < 10; ++i) feed.publish(item(std::to_string(i)));  // nobody reads yet
  feed.close();
  Collected got;
  asio::co_spawn(io, collect(sub, got, 1000), asio::detached);
  io.run();
  EXPECT_EQ(got.items, (std::vector<std::string>{"7", "8", "9"}));
  EXPECT_EQ(got.dropped, 7u);
  EXPECT_TRUE(got.closed);
}

TEST(Feed, IdleWhenNothingComesAndStopEndsAWait) {
  asio::io_context io;
  Feed feed(1);
  auto sub = feed.subscribe(io.get_executor());
  Collected got;
  asio::co_spawn(io, collect(sub, got, 2), asio::detached);
  io.run();
  EXPECT_EQ(got.idles, 2);
  EXPECT_FALSE(got.closed);

  asio::io_context io2;
  auto sub2 = feed.subscribe(io2.get_executor());
  Collected got2;
  asio::co_spawn(io2, collect(sub2, got2, 1000), asio::detached);
  asio::steady_timer t(io2, 20ms);
  t.async_wait([&](auto) { sub2->stop(); });
  io2.run();
  EXPECT_TRUE(got2.closed);
}

TEST(Feed, SubscribersThatLeftAreNotCountedAndClosedFeedsSayClosed) {
  asio::io_context io;
  Feed feed(1);
  { auto s = feed.subscribe(io.get_executor()); }
  EXPECT_EQ(feed.subscribers(), 0u);
  feed.close();
  auto late = feed.subscribe(io.get_executor());
  Collected got;
  asio::co_spawn(io, collect(late, got, 1000), asio::detached);
  io.run();
  EXPECT_TRUE(got.closed);
  feed.publish(item("after close"));  // discarded, no crash
}

}  // namespace
