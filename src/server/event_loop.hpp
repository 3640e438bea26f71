#pragma once
// run_event_loop: runs one I/O thread's io_context, either as plain
// io_context::run() or with adaptive busy polling: after an event the thread
// keeps polling for events (non-blocking) for a while before it goes to
// sleep in epoll_wait, for as long as its recent events came that close
// together (see PollWindow).
//
//   server::run_event_loop(ioc, std::chrono::microseconds(0));    // = ioc.run()
//   server::run_event_loop(ioc, std::chrono::microseconds(100));  // poll up to 100 us after an event
//
// Returns when the io_context is stopped or runs out of work, like run().
// Exceptions from handlers propagate, like run().
//
// Why: a request that arrives while its thread sleeps pays for waking the
// core up. On bare metal that is a C-state exit; in a VM whose guest halts
// an idle vCPU at once (no halt polling), the wake-up goes through the
// hypervisor and costs tens of microseconds. A request through the gateway
// can sleep twice on its I/O thread (waiting for the client, then for the
// upstream), so at light load the wake-ups are most of the added latency.
// A thread that is still polling when the bytes arrive does not sleep.
//
// Cost: while events keep coming less than the window apart, the thread
// uses its whole core, and between polls it yields to any other thread
// runnable there (the ledger writer, inference workers). When the gaps grow
// past the cap (an idle server, a client that thinks, an inference that
// takes milliseconds), the window decays to 0 and the thread sleeps at once.

#include <chrono>
#include <cstdint>

#include <utility>  // before Asio, for g++ 12
#include <boost/asio/io_context.hpp>

namespace osprey::server {

// What the loop did, for tests and diagnostics (owned by the caller; read it
// after the loop returned).
struct EventLoopStats {
  std::uint64_t polls = 0;   // non-blocking polls
  std::uint64_t sleeps = 0;  // blocking waits, each after a window with no event
  std::chrono::microseconds window{0};  // the polling window after the last sleep
};

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll,
                    EventLoopStats* stats = nullptr);

}  // namespace osprey::server
