#pragma once
// Internal to server/: the state one I/O thread owns, and the state shared by
// all of them. Not for use outside src/server.

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

#include "config/config.hpp"
#include "http/router.hpp"
#include "server/server.hpp"

namespace osprey::server {

// One live connection, as the worker sees it (for shutdown and deadlines).
//
// Read and write deadlines are plain timestamps: the worker's sweep (see
// Server::start) cancels the socket's pending operations once one has
// passed and sets `expired`, so the session can still answer 408. Arming a
// timer per request instead costs a timer-queue insert and a cancelled
// completion per read, which showed in the health benchmark. (For the same
// reason the session holds a plain socket, not a beast::tcp_stream: that
// one's timers cost half a KiB per connection, 5 MiB at 10k open streams.)
// The worker's view of the time, refreshed by its deadline sweep every tick:
// reading it costs nothing, and deadlines are only as fine as the tick.
struct CoarseClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  std::chrono::milliseconds tick{100};
};

struct Connection {
  using Clock = std::chrono::steady_clock;
  const CoarseClock* clock = nullptr;
  boost::asio::ip::tcp::socket* socket = nullptr;
  bool idle = true;  // waiting for (the first byte of) the next request
  bool expired = false;
  Clock::time_point deadline = Clock::time_point::max();

  // Fires after at least d, at most two ticks later than that.
  void arm(std::chrono::milliseconds d) {
    expired = false;
    deadline = clock->now + d + clock->tick;
  }
  void disarm() { deadline = Clock::time_point::max(); }

  // A request whose handler may wait long (an upstream call) wants to know
  // when its client hangs up. Watching costs a coroutine, a read and a
  // cancellation per request, which most relayed requests (answered in a
  // millisecond or two) never need: the sweep calls start(arg) only for a
  // request still running a tick or two later.
  Clock::time_point watch_at = Clock::time_point::max();
  void (*start_watch)(void*) = nullptr;
  void* watch_arg = nullptr;
  void defer_watch(void (*start)(void*), void* arg) {
    start_watch = start;
    watch_arg = arg;
    watch_at = clock->now + clock->tick;
  }
  void drop_watch() {
    watch_at = Clock::time_point::max();
    start_watch = nullptr;
    watch_arg = nullptr;
  }
};

struct Server::Shared {
  config::ServerConfig cfg;
  std::mutex router_mu;
  std::shared_ptr<const http::Router> router;
  std::atomic<std::uint64_t> router_version{1};  // bumped by set_router
  std::atomic<bool> draining{false};
  std::atomic<std::size_t>* connections = nullptr;
  std::atomic<std::size_t>* in_flight = nullptr;

  std::shared_ptr<const http::Router> current_router() {
    std::lock_guard lock(router_mu);
    return router;
  }
};

struct Server::Worker {
  // Declaration order matters: destroying `ioc` destroys suspended session
  // coroutines, whose guards still use `connections` and `shared`.
  std::shared_ptr<Server::Shared> shared;
  std::list<Connection*> connections;  // touched only on this worker's thread
  CoarseClock clock;                   // likewise
  // One thread runs it, and every socket and timer of a worker is touched
  // only from that thread (others post to it: shutdown, completions from the
  // inference pool and Redis): so the reactor needs no per-socket locks, which
  // cost two lock/unlock pairs a request. Posting from other threads stays
  // safe (the scheduler keeps its lock).
  boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  // The router as this thread last saw it: refreshed only when
  // Shared::router_version moves, so a request costs no lock.
  std::shared_ptr<const http::Router> router;
  std::uint64_t router_version = 0;

  const std::shared_ptr<const http::Router>& current_router() {
    auto v = shared->router_version.load(std::memory_order_acquire);
    if (v != router_version) {
      std::lock_guard lock(shared->router_mu);
      router = shared->router;
      router_version = shared->router_version.load(std::memory_order_relaxed);
    }
    return router;
  }
};

// The per-connection coroutine (session.cpp).
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, Server::Worker& worker);

}  // namespace osprey::server
