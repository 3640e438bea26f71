#pragma once
// run_event_loop: runs one I/O thread's io_context, either as plain
// io_context::run() or with busy polling: after each burst of work the
// thread keeps polling for events (non-blocking) for a while before it goes
// to sleep in epoll_wait.
//
//   server::run_event_loop(ioc, std::chrono::microseconds(0));    // = ioc.run()
//   server::run_event_loop(ioc, std::chrono::microseconds(100));  // poll 100 us after the last event
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
// Cost: the thread keeps its core busy for `busy_poll` after every event, so
// under light, steady load it uses its whole core. Use it only when each I/O
// thread has a core of its own: a polling thread takes CPU from anything
// else scheduled there (inference workers included). An idle server still
// sleeps: the window restarts only when something happens.

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
};

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds busy_poll,
                    EventLoopStats* stats = nullptr);

}  // namespace osprey::server
