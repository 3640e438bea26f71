#pragma once
// Internal to server/: the state one I/O thread owns, and the state shared by
// all of them. Not for use outside src/server.

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>

#include "config/config.hpp"
#include "http/router.hpp"
#include "server/server.hpp"

namespace osprey::server {

// One live connection, as the worker sees it (for shutdown).
struct Connection {
  boost::beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for (the first byte of) the next request
};

struct Server::Shared {
  config::ServerConfig cfg;
  std::mutex router_mu;
  std::shared_ptr<const http::Router> router;
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
  boost::asio::io_context ioc{1};
  boost::asio::ip::tcp::acceptor acceptor{ioc};
};

// The per-connection coroutine (session.cpp).
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, Server::Worker& worker);

}  // namespace osprey::server
