#include "server/event_loop.hpp"

#include <sched.h>

namespace osprey::server {

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll, EventLoopStats* stats) {
  if (busy_poll.count() <= 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  EventLoopStats unused;
  EventLoopStats& s = stats ? *stats : unused;
  auto window_end = Clock::now() + busy_poll;
  // poll() runs every handler that is ready, after one epoll_wait with a
  // zero timeout; run_one() sleeps until one is. Both stop the io_context
  // when it has no work left, which ends the loop as run() would end.
  while (!ioc.stopped()) {
    ++s.polls;
    if (ioc.poll() > 0) {
      window_end = Clock::now() + busy_poll;
    } else if (Clock::now() >= window_end) {
      ++s.sleeps;
      ioc.run_one();
      window_end = Clock::now() + busy_poll;
    } else {
      // Nothing ready: let any other thread that is runnable on this core
      // (the ledger writer, an inference worker) have it between polls.
      // With nobody waiting, this returns at once.
      sched_yield();
    }
  }
}

}  // namespace osprey::server
