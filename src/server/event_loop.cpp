#include "server/event_loop.hpp"

#include <sched.h>

#include "server/poll_window.hpp"

namespace osprey::server {

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll, EventLoopStats* stats) {
  if (busy_poll.count() <= 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  EventLoopStats unused;
  EventLoopStats& s = stats ? *stats : unused;
  PollWindow window(busy_poll);
  auto last_event = Clock::now();
  // poll() runs every handler that is ready, after one epoll_wait with a
  // zero timeout; run_one() sleeps until one is. Both stop the io_context
  // when it has no work left, which ends the loop as run() would end.
  while (!ioc.stopped()) {
    ++s.polls;
    if (ioc.poll() > 0) {
      last_event = Clock::now();
      continue;
    }
    auto now = Clock::now();
    if (now - last_event < window.current()) {
      // Nothing ready: let any other thread that is runnable on this core
      // (the ledger writer, an inference worker) have it between polls.
      // With nobody waiting, this returns at once.
      sched_yield();
      continue;
    }
    ++s.sleeps;
    ioc.run_one();
    now = Clock::now();
    // The gap includes the one handler run_one() ran; handlers on an I/O
    // thread take microseconds, so the error is small.
    window.after_sleep(duration_cast<microseconds>(now - last_event));
    last_event = now;
    s.window = window.current();
  }
}

}  // namespace osprey::server
