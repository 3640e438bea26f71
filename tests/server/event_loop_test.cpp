// run_event_loop: plain run() when busy polling is off; with it on, events
// that arrive inside the window are taken without a sleep, the loop sleeps
// once a window passes with nothing, and it ends the way run() ends.
#include "server/event_loop.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using osprey::server::EventLoopStats;
using osprey::server::run_event_loop;

namespace {

// Posts `n` handlers from another thread, `gap` apart, then stops the loop.
void post_from_outside(asio::io_context& ioc, int n, std::chrono::milliseconds gap, std::atomic<int>& ran) {
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_for(gap);
    asio::post(ioc, [&ran] { ++ran; });
  }
  std::this_thread::sleep_for(gap);
  ioc.stop();
}

}  // namespace

TEST(EventLoop, WithoutBusyPollingItIsPlainRun) {
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::atomic<int> ran{0};
  EventLoopStats stats;
  std::thread t([&] { post_from_outside(ioc, 3, 20ms, ran); });
  run_event_loop(ioc, 0us, &stats);
  t.join();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(stats.polls, 0u);
  EXPECT_EQ(stats.sleeps, 0u);
}

TEST(EventLoop, EventsInsideTheWindowAreTakenWithoutSleeping) {
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::atomic<int> ran{0};
  EventLoopStats stats;
  asio::post(ioc, [] {});  // the first event opens the window
  // Five events 20 ms apart, each well inside a 10 s window.
  std::thread t([&] { post_from_outside(ioc, 5, 20ms, ran); });
  run_event_loop(ioc, 10s, &stats);
  t.join();
  EXPECT_EQ(ran.load(), 5);
  EXPECT_EQ(stats.sleeps, 0u);
  EXPECT_GT(stats.polls, 5u);
}

TEST(EventLoop, AfterAWindowWithoutEventsItSleeps) {
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::atomic<int> ran{0};
  EventLoopStats stats;
  // 200 ms between events and a 1 ms window: the loop must sleep before
  // each of them, and a sleeping loop does not count polls.
  std::thread t([&] { post_from_outside(ioc, 3, 200ms, ran); });
  run_event_loop(ioc, 1ms, &stats);
  t.join();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_GE(stats.sleeps, 3u);
  // Polling for the whole 800 ms would be hundreds of thousands of polls;
  // four windows of 1 ms are a few thousand at most.
  EXPECT_LT(stats.polls, 200'000u);
}

TEST(EventLoop, EndsWhenTheWorkRunsOutLikeRun) {
  asio::io_context ioc;
  int fired = 0;
  asio::steady_timer timer(ioc, 30ms);
  timer.async_wait([&](boost::system::error_code) { ++fired; });
  EventLoopStats stats;
  run_event_loop(ioc, 5ms, &stats);  // returns: nothing left to do after the timer
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(ioc.stopped());
}

TEST(EventLoop, HandlerExceptionsPropagateLikeRun) {
  asio::io_context ioc;
  asio::post(ioc, [] { throw std::runtime_error("boom"); });
  EXPECT_THROW(run_event_loop(ioc, 1ms), std::runtime_error);
}
