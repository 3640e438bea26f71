#include "server/server.hpp"

#include <sched.h>
#include <algorithm>
#include <stdexcept>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/event_loop.hpp"
#include "server/worker.hpp"

namespace osprey::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

namespace {

asio::awaitable<void> accept_loop(Server::Worker& w) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket sock = co_await w.acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !w.acceptor.is_open()) co_return;
      // EMFILE and friends: log, back off briefly, keep serving the rest.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer t(w.ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    asio::co_spawn(w.ioc, run_session(std::move(sock), w), asio::detached);
  }
}

// Checks the connections' read/write deadlines (see Connection) every tick.
// A deadline fires up to two ticks late (see Connection::arm); the tick is a
// twentieth of the shortest timeout, so that is at most 10% (and 2 x 100 ms).
asio::awaitable<void> sweep_deadlines(Server::Worker& w) {
  asio::steady_timer timer(w.ioc);
  boost::system::error_code ec;
  for (;;) {
    timer.expires_after(w.clock.tick);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (w.shared->draining && w.connections.empty()) co_return;
    auto now = Connection::Clock::now();
    w.clock.now = now;
    for (auto* c : w.connections) {
      if (c->watch_at <= now) {
        auto start = c->start_watch;
        void* arg = c->watch_arg;
        c->drop_watch();
        if (start) start(arg);
      }
      if (c->deadline > now) continue;
      c->deadline = Connection::Clock::time_point::max();
      c->expired = true;
      c->socket->cancel(ec);
    }
  }
}

std::chrono::milliseconds sweep_tick(const config::ServerConfig& cfg) {
  int shortest = std::min({cfg.header_timeout_ms, cfg.body_timeout_ms, cfg.idle_timeout_ms});
  return std::chrono::milliseconds(std::clamp(shortest / 20, 5, 100));
}

// Every worker has its own acceptor on the same port (SO_REUSEPORT, so the
// kernel spreads connections). That option would also let a second Osprey
// (or anything else of this user with the option set) share the port
// silently and take part of the traffic; a bind without it fails while
// anyone holds the port, so try that first.
void ensure_port_free(const tcp::endpoint& ep) {
  if (ep.port() == 0) return;  // the kernel picks a port nobody shares
  asio::io_context probe_ctx;
  tcp::acceptor probe(probe_ctx);
  probe.open(ep.protocol());
  probe.set_option(asio::socket_base::reuse_address(true));
  boost::system::error_code ec;
  probe.bind(ep, ec);
  if (ec == asio::error::address_in_use)
    throw std::runtime_error("port " + std::to_string(ep.port()) + " on " + ep.address().to_string() +
                             " is already in use (is another server running?)");
}

void open_acceptor(tcp::acceptor& acc, const tcp::endpoint& ep) {
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  int one = 1;
  ::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
}

}  // namespace

Server::Server(config::ServerConfig cfg, std::shared_ptr<const http::Router> router)
    : cfg_(std::move(cfg)), shared_(std::make_shared<Shared>()) {
  shared_->cfg = cfg_;
  shared_->router = std::move(router);
  shared_->connections = &connections_;
  shared_->in_flight = &in_flight_;
}

Server::~Server() {
  shutdown();
  wait();
  workers_.clear();  // while the counters the sessions touch are still alive
}

void Server::set_router(std::shared_ptr<const http::Router> router) {
  std::lock_guard lock(shared_->router_mu);
  shared_->router = std::move(router);
  shared_->router_version.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const http::Router> Server::router() const { return shared_->current_router(); }

void Server::start() {
  int n = cfg_.threads > 0 ? cfg_.threads : usable_cores();
  auto address = asio::ip::make_address(cfg_.host);
  ensure_port_free(tcp::endpoint(address, static_cast<unsigned short>(cfg_.port)));
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->shared = shared_;
    tcp::endpoint ep(address, static_cast<unsigned short>(i == 0 ? cfg_.port : port_));
    open_acceptor(w->acceptor, ep);
    if (i == 0) port_ = w->acceptor.local_endpoint().port();
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    asio::co_spawn(w->ioc, accept_loop(*w), asio::detached);
    w->clock.tick = sweep_tick(cfg_);
    asio::co_spawn(w->ioc, sweep_deadlines(*w), asio::detached);
    threads_.emplace_back([wp = w.get(), busy_poll = std::chrono::microseconds(cfg_.busy_poll_us)] {
      try {
        run_event_loop(wp->ioc, busy_poll);
      } catch (const std::exception& e) {
        spdlog::critical("I/O thread stopped: {}", e.what());
      }
    });
  }
}

void Server::shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (workers_.empty()) return;
    shared_->draining = true;
    spdlog::info("shutting down: no new connections; {} request(s) in flight get up to {} ms",
                 in_flight_.load(), cfg_.shutdown_grace_ms);
    for (auto& w : workers_) {
      asio::post(w->ioc, [wp = w.get(), this] {
        boost::system::error_code ec;
        wp->acceptor.close(ec);
        // Idle keep-alive connections are closed now; busy ones close after
        // their current response (session.cpp checks `draining`). A
        // connection whose next request has already arrived is not idle: the
        // client sent it before we stopped, so it is answered (with
        // Connection: close) rather than cut.
        for (auto* c : wp->connections)
          if (c->idle && c->socket->available(ec) == 0) c->socket->close(ec);
      });
    }
    // Hard deadline: whatever is still running after the grace period is cut.
    deadline_ = std::thread([this, grace = cfg_.shutdown_grace_ms] {
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace);
      while (std::chrono::steady_clock::now() < until) {
        if (connections_.load() == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (connections_.load() > 0)
        spdlog::warn("shutdown grace period over; closing {} connection(s)", connections_.load());
      for (auto& w : workers_) w->ioc.stop();
    });
  });
}

void Server::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (deadline_.joinable()) deadline_.join();
}

}  // namespace osprey::server
