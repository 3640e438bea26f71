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

struct Outcome {
  int ran = 0;
  EventLoopStats stats;
};

// Runs the loop while another thread posts `n` handlers, `gap` apart, and
// then stops it. `event_first`: one handler is ready before the loop starts
// (it opens the first polling window).
Outcome run_with_posts(std::chrono::microseconds busy_poll, int n, std::chrono::milliseconds gap,
                       bool event_first = false) {
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::atomic<int> ran{0};
  Outcome out;
  if (event_first) asio::post(ioc, [] {});
  std::thread t([&] {
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(gap);
      asio::post(ioc, [&ran] { ++ran; });
    }
    std::this_thread::sleep_for(gap);
    ioc.stop();
  });
  run_event_loop(ioc, busy_poll, &out.stats);
  t.join();
  out.ran = ran.load();
  return out;
}

}  // namespace

TEST(EventLoop, WithoutBusyPollingItIsPlainRun) {
  auto r = run_with_posts(0us, 3, 20ms);
  EXPECT_EQ(r.ran, 3);
  EXPECT_EQ(r.stats.polls, 0u);
  EXPECT_EQ(r.stats.sleeps, 0u);
}

TEST(EventLoop, EventsInsideTheWindowAreTakenWithoutSleeping) {
  // Five events 20 ms apart, each well inside a 10 s window.
  auto r = run_with_posts(10s, 5, 20ms, /*event_first=*/true);
  EXPECT_EQ(r.ran, 5);
  EXPECT_EQ(r.stats.sleeps, 0u);
  EXPECT_GT(r.stats.polls, 5u);
}

TEST(EventLoop, AfterAWindowWithoutEventsItSleeps) {
  // 200 ms between events and a 1 ms window: the loop must sleep before
  // each of them, and a sleeping loop does not count polls.
  auto r = run_with_posts(1ms, 3, 200ms);
  EXPECT_EQ(r.ran, 3);
  EXPECT_GE(r.stats.sleeps, 3u);
  // Polling for the whole 800 ms would be hundreds of thousands of polls;
  // four windows of 1 ms are a few thousand at most.
  EXPECT_LT(r.stats.polls, 200'000u);
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
