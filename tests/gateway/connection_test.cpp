// Connection::take_arrived: what has already arrived on an upstream socket
// is moved into the connection's buffer without a wait; nothing arrived
// leaves the buffer as small as it was; the upstream's EOF is left to the
// next read.

#include <utility>

#include <chrono>
#include <string>
#include <thread>

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "gateway/connection.hpp"

namespace osprey::gateway {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A plain Connection connected to a socket the test writes into.
struct Pair {
  asio::io_context io;
  Connection conn{io.get_executor(), nullptr};
  tcp::socket peer{io};

  Pair() {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    conn.tcp().socket().connect(acc.local_endpoint());
    acc.accept(peer);
  }
  // Waits until the connection's socket has something to read (or EOF).
  void wait_readable() {
    pollfd p{conn.tcp().socket().native_handle(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
  }
  std::string buffered() const {
    auto d = conn.buffer.data();
    return std::string(static_cast<const char*>(d.data()), d.size());
  }
};

TEST(ConnectionTakeArrived, NothingThereLeavesTheBufferAsItWas) {
  Pair p;
  EXPECT_FALSE(p.conn.take_arrived(16 * 1024));
  EXPECT_EQ(p.conn.buffer.size(), 0u);
  EXPECT_EQ(p.conn.buffer.capacity(), 0u);  // no room held by a connection that waits
}

TEST(ConnectionTakeArrived, WhatArrivedIsBufferedAtOnce) {
  Pair p;
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n";
  asio::write(p.peer, asio::buffer(answer));
  p.wait_readable();
  EXPECT_TRUE(p.conn.take_arrived(16 * 1024));
  EXPECT_EQ(p.buffered(), answer);
  // Already buffered: no read, still true.
  EXPECT_TRUE(p.conn.take_arrived(16 * 1024));
  EXPECT_EQ(p.buffered(), answer);
}

TEST(ConnectionTakeArrived, TakesAtMostTheRoomAndLeavesTheRestInTheSocket) {
  Pair p;
  const std::string answer(3000, 'a');
  asio::write(p.peer, asio::buffer(answer));
  p.wait_readable();
  // All of it is in the socket before we read (one write on loopback).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(p.conn.take_arrived(1000));
  EXPECT_EQ(p.conn.buffer.size(), 1000u);
  std::string rest(2000, '\0');
  asio::read(p.conn.tcp().socket(), asio::buffer(rest));
  EXPECT_EQ(rest, std::string(2000, 'a'));
}

TEST(ConnectionTakeArrived, EndOfStreamIsLeftToTheNextRead) {
  Pair p;
  p.peer.shutdown(tcp::socket::shutdown_send);
  p.wait_readable();
  EXPECT_FALSE(p.conn.take_arrived(16 * 1024));
  EXPECT_EQ(p.conn.buffer.capacity(), 0u);
  char c;
  boost::system::error_code ec;
  p.conn.tcp().socket().read_some(asio::buffer(&c, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(ConnectionTakeArrived, ABlockingSocketDoesNotBlock) {
  Pair p;
  boost::system::error_code ec;
  p.conn.tcp().socket().non_blocking(false, ec);
  ASSERT_FALSE(ec);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.conn.take_arrived(16 * 1024));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace osprey::gateway
