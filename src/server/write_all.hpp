#pragma once
// write_all: the part of a response that the socket did not take at once
// (http::send_now), written under the connection's deadline. send_all does
// both steps, for rare writes (a refusal, 100 Continue); the hot paths call
// send_now inline, to start no coroutine when the socket takes it all.
// Internal to server/.
//
//   std::size_t sent = http::send_now(socket, buffers, ec);
//   if (!ec && sent < total) {
//     beast::buffers_suffix<Buffers> rest(buffers);
//     rest.consume(sent);
//     co_await write_all(socket, conn, rest, 30s, ec);  // timeout: beast::error::timeout
//   }
//
// The deadline is the connection's (worker.hpp), which the worker's sweep
// enforces by cancelling the socket's operations, rather than a timer per
// write: a client that stops reading cannot hold the connection, and a write
// that never waits costs nothing.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>

#include "http/nonblocking.hpp"
#include "server/worker.hpp"

namespace osprey::server {

// `buffers` must outlive the call (callers pass a local and await at once).
template <class Buffers>
boost::asio::awaitable<void> write_all(boost::asio::ip::tcp::socket& socket, Connection& conn, const Buffers& buffers,
                                       std::chrono::milliseconds timeout, boost::system::error_code& ec) {
  conn.arm(timeout);
  co_await boost::asio::async_write(socket, buffers, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  conn.disarm();
  if (ec && conn.expired) ec = boost::beast::error::timeout;
}

// Sends what the socket takes now, then the rest under the deadline.
inline boost::asio::awaitable<void> send_all(boost::asio::ip::tcp::socket& socket, Connection& conn,
                                             boost::asio::const_buffer buffer, std::chrono::milliseconds timeout,
                                             boost::system::error_code& ec) {
  const std::size_t sent = http::send_now(socket, buffer, ec);
  if (!ec && sent < buffer.size()) {
    const auto rest = buffer + sent;
    co_await write_all(socket, conn, rest, timeout, ec);
  }
}

}  // namespace osprey::server
