// EdgeReader: a read that drains the socket makes the next read wait for
// epoll instead of trying recv first. What must hold whatever the timing:
// every byte the peer sends arrives, in order; a close after that is
// reported; cancel/close end a waiting read as they do for async_read_some.
// A close that arrives glued to the last bytes is the one thing a waiting
// read may not see (no new edge): async_wait, which asks epoll afresh, does.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "http/edge_read.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// A connected pair: `server` on the io_context (non-blocking, as sessions
// set it), `client` a blocking socket for a peer thread.
struct Pair {
  asio::io_context ioc;
  asio::io_context client_ioc;
  tcp::socket server{ioc};
  tcp::socket client{client_ioc};
  Pair() {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acc.local_endpoint());
    acc.accept(server);
    server.non_blocking(true);
    client.set_option(tcp::no_delay(true));
  }
};

// Reads everything until end of stream with a small buffer (so that many
// reads fill it and many drain the socket).
asio::awaitable<void> read_all(tcp::socket& s, std::string& out, std::atomic<std::size_t>& got_bytes,
                               boost::system::error_code& end, std::size_t chunk) {
  osprey::http::EdgeReader reader(s);
  char buf[4096];
  for (;;) {
    boost::system::error_code ec;
    auto n = co_await reader.async_read_some(asio::buffer(buf, chunk), asio::redirect_error(asio::use_awaitable, ec));
    out.append(buf, n);
    got_bytes += n;
    if (ec) {
      end = ec;
      co_return;
    }
  }
}

}  // namespace

TEST(EdgeRead, EveryByteArrivesWhateverTheTiming) {
  for (std::size_t chunk : {7u, 512u, 4096u}) {
    Pair p;
    std::string expected, got;
    std::atomic<std::size_t> got_bytes{0};
    std::mt19937 rng(static_cast<unsigned>(chunk));
    for (int i = 0; i < 3000; ++i) expected += "message " + std::to_string(i) + ";";
    std::thread peer([&] {
      // Pieces of random size with random pauses: some arrive while a read
      // is queued, some between a draining read and the next one.
      std::size_t off = 0;
      while (off < expected.size()) {
        std::size_t n = std::min<std::size_t>(expected.size() - off, 1 + rng() % 3000);
        asio::write(p.client, asio::buffer(expected.data() + off, n));
        off += n;
        if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
      }
      // Close once everything was read, so that the close is an edge of
      // its own (the glued case is the last test).
      while (got_bytes < expected.size()) std::this_thread::sleep_for(1ms);
      p.client.shutdown(tcp::socket::shutdown_send);
    });
    boost::system::error_code end;
    asio::co_spawn(p.ioc, read_all(p.server, got, got_bytes, end, chunk), asio::detached);
    p.ioc.run_for(60s);
    peer.join();
    EXPECT_EQ(end, asio::error::eof) << chunk;
    EXPECT_EQ(got.size(), expected.size()) << chunk;
    EXPECT_TRUE(got == expected) << chunk;
  }
}

TEST(EdgeRead, RequestResponseOnOneConnectionNeverStalls) {
  // The keep-alive pattern this is for: read a request (draining the
  // socket), answer, read the next one, which comes only after the answer.
  Pair p;
  constexpr int kRounds = 2000;
  int answered = 0;
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        osprey::http::EdgeReader reader(p.server);
        char buf[256];
        for (int i = 0; i < kRounds; ++i) {
          auto n = co_await reader.async_read_some(asio::buffer(buf), asio::use_awaitable);
          EXPECT_EQ(std::string(buf, n), "ping " + std::to_string(i));
          co_await asio::async_write(p.server, asio::buffer("pong", 4), asio::use_awaitable);
          ++answered;
        }
      },
      asio::detached);
  std::thread peer([&] {
    char buf[16];
    for (int i = 0; i < kRounds; ++i) {
      auto msg = "ping " + std::to_string(i);
      asio::write(p.client, asio::buffer(msg));
      asio::read(p.client, asio::buffer(buf, 4));
    }
  });
  p.ioc.run_for(30s);
  peer.join();
  EXPECT_EQ(answered, kRounds);
}

TEST(EdgeRead, CancelAndCloseEndAWaitingRead) {
  Pair p;
  boost::system::error_code first, second;
  bool done = false;
  asio::steady_timer t(p.ioc);
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        osprey::http::EdgeReader reader(p.server);
        char buf[64];
        // Drain what is there, so that the next read waits without a recv.
        auto n = co_await reader.async_read_some(asio::buffer(buf), asio::use_awaitable);
        EXPECT_EQ(n, 5u);
        t.expires_after(50ms);
        t.async_wait([&](auto) { p.server.cancel(); });
        co_await reader.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, first));
        t.expires_after(50ms);
        t.async_wait([&](auto) { p.server.close(); });
        co_await reader.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, second));
        done = true;
      },
      asio::detached);
  asio::write(p.client, asio::buffer("hello", 5));
  p.ioc.run_for(10s);
  EXPECT_TRUE(done);
  EXPECT_EQ(first, asio::error::operation_aborted);
  EXPECT_EQ(second, asio::error::operation_aborted);
}

TEST(EdgeRead, ACloseGluedToTheLastBytesIsSeenByAsyncWait) {
  Pair p;
  // Bytes and close are both there before the first read.
  asio::write(p.client, asio::buffer("bye", 3));
  p.client.shutdown(tcp::socket::shutdown_send);
  std::this_thread::sleep_for(20ms);
  std::string got;
  boost::system::error_code waited, last;
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        osprey::http::EdgeReader reader(p.server);
        char buf[64];
        auto n = co_await reader.async_read_some(asio::buffer(buf), asio::use_awaitable);
        got.assign(buf, n);
        // What the close watcher does (server/session.cpp).
        co_await p.server.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, waited));
        p.server.read_some(asio::buffer(buf), last);
      },
      asio::detached);
  p.ioc.run_for(10s);
  EXPECT_EQ(got, "bye");
  EXPECT_FALSE(waited);
  EXPECT_EQ(last, asio::error::eof);
}
