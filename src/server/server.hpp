#pragma once
// Server: the HTTP/1.1 front door, on Boost.Beast with C++20 coroutines.
//
//   server::Server srv(cfg.server, router);  // router: shared_ptr<const Router>
//   srv.start();                              // binds, spawns the I/O threads
//   spdlog::info("listening on port {}", srv.port());
//   ...
//   srv.shutdown();                           // from a signal handler thread
//   srv.wait();                               // joins; returns when drained
//
// Threading: one io_context per I/O thread, each with its own acceptor on the
// same port (SO_REUSEPORT), so a connection lives on one thread from accept to
// close and needs no locks. Handlers run on that thread; CPU-heavy work must
// hop to a worker pool (see inference/).
//
// Per connection: keep-alive, TCP_NODELAY, pipelined requests answered in
// order, one write per response. Limits: header block over
// max_header_bytes -> 431; body over the route's cap -> 413 (decided from the
// header, before the body is read); header or body not received in time ->
// 408; an idle keep-alive connection is closed after idle_timeout.
//
// Shutdown: stop accepting, close idle connections, let in-flight requests
// finish (their responses carry Connection: close) for up to
// shutdown_grace_ms, then stop. The router can be swapped at any time
// (set_router) without disturbing requests already dispatched.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "http/router.hpp"

namespace osprey::server {

class Server {
 public:
  Server(config::ServerConfig cfg, std::shared_ptr<const http::Router> router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; throws std::system_error if the address is taken.
  void start();
  int port() const { return port_; }

  void set_router(std::shared_ptr<const http::Router> router);
  std::shared_ptr<const http::Router> router() const;

  // Begins a graceful shutdown; safe to call from any thread, more than once.
  void shutdown();
  // Blocks until every I/O thread has stopped.
  void wait();

  std::size_t open_connections() const { return connections_.load(); }
  std::size_t in_flight() const { return in_flight_.load(); }

  // Used by the per-connection code (server/session.cpp).
  struct Worker;
  struct Shared;

 private:
  config::ServerConfig cfg_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::once_flag shutdown_once_;
  std::thread deadline_;
};

// Number of CPUs this process may run on (respects taskset/cgroups affinity).
int usable_cores();

}  // namespace osprey::server
