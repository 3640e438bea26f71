// run_event_loop: plain run() when busy polling is off; with it on, events
// that come close together are taken without a sleep, events far apart are
// slept for without polling, and the loop ends the way run() ends.
// PollWindow: the window grows to cover gaps within the cap, never past it,
// and decays to 0 when the gaps are longer.
#include "server/event_loop.hpp"
#include "server/poll_window.hpp"

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
using osprey::server::PollWindow;
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

TEST(EventLoop, EventsThatComeCloseTogetherAreTakenWithoutSleeping) {
  // Eight events 20 ms apart under a 10 s cap: the loop sleeps through the
  // first gap (the window starts closed), which opens the window to cover
  // 20 ms; the events after that are taken by polling. One more sleep is
  // allowed for a gap that a busy machine stretches past the window.
  auto r = run_with_posts(10s, 8, 20ms, /*event_first=*/true);
  EXPECT_EQ(r.ran, 8);
  EXPECT_GE(r.stats.sleeps, 1u);
  EXPECT_LE(r.stats.sleeps, 2u);
  EXPECT_GT(r.stats.polls, 8u);
  EXPECT_GE(r.stats.window, 20ms);
}

TEST(EventLoop, EventsFartherApartThanTheCapAreSleptForWithoutPolling) {
  // 100 ms between events and a 1 ms cap: polling would not catch any of
  // them, so the window stays closed and the loop sleeps at once every
  // time: one poll that finds nothing, then a sleep. A fixed 1 ms window
  // would have spun for 1 ms (thousands of polls) after each event.
  auto r = run_with_posts(1ms, 4, 100ms);
  EXPECT_EQ(r.ran, 4);
  EXPECT_GE(r.stats.sleeps, 4u);
  EXPECT_LT(r.stats.polls, 4 * r.stats.sleeps);
  EXPECT_EQ(r.stats.window, 0us);
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

TEST(PollWindow, StartsClosed) {
  PollWindow w(100us);
  EXPECT_EQ(w.current(), 0us);
  EXPECT_EQ(w.cap(), 100us);
}

TEST(PollWindow, GrowsToCoverAGapWithinTheCapButNeverPastIt) {
  PollWindow w(100us);
  w.after_sleep(40us);
  EXPECT_GE(w.current(), 40us);  // a window of this size would have caught that gap
  EXPECT_LT(w.current(), 100us);
  w.after_sleep(40us);
  EXPECT_EQ(w.current(), 100us);
  w.after_sleep(100us);
  EXPECT_EQ(w.current(), 100us);
}

TEST(PollWindow, GapsLongerThanTheCapCloseItByHalves) {
  PollWindow w(100us);
  w.after_sleep(90us);
  ASSERT_EQ(w.current(), 100us);
  w.after_sleep(5ms);
  EXPECT_EQ(w.current(), 50us);  // one long gap among short ones costs half
  w.after_sleep(30us);
  EXPECT_EQ(w.current(), 100us);
  int steps = 0;
  while (w.current() > 0us && steps < 100) {
    w.after_sleep(1s);
    ++steps;
  }
  EXPECT_EQ(w.current(), 0us);
  EXPECT_LE(steps, 8);  // 100, 50, 25, 12, 6, 3, 1, 0
}

TEST(PollWindow, ACapOfZeroOrLessNeverOpens) {
  for (auto cap : {0us, -5us}) {
    PollWindow w(cap);
    w.after_sleep(0us);
    EXPECT_EQ(w.current(), 0us);
    w.after_sleep(10us);
    EXPECT_EQ(w.current(), 0us);
  }
}
