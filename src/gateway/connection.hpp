#pragma once
// Connection and ConnectionPool: keep-alive sockets to the upstream.
//
// A Connection is a TCP stream, wrapped in TLS for https, bound to the
// executor (I/O thread) that opened it: it is only ever used by coroutines on
// that thread. The pool is shared by all threads (one mutex, held for a few
// pointer moves); take() only hands out connections of the caller's own
// executor, so no socket ever crosses threads. This is the "strand-free"
// design: the gateway can be called from any of the server's io_contexts.
//
//   auto c = pool.take(ex);                  // nullptr: open a new one
//   ... use it ...
//   if (reusable) pool.give_back(std::move(c));
//
// The pool keeps at most `max_idle` idle connections (the oldest go first)
// and drops one idle longer than `max_idle_age`, since upstreams close idle
// keep-alive connections themselves after a while.

#include <utility>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace osprey::gateway {

struct Connection {
  Connection(boost::asio::any_io_executor ex, boost::asio::ssl::context* tls_ctx);

  boost::beast::tcp_stream& tcp() { return tls ? boost::beast::get_lowest_layer(*tls) : *plain; }
  // Closes the socket now; a pending read or write completes with an error.
  void close();
  // Whether more of the upstream's answer is already here, so that reading
  // it does not wait: in `buffer`, decrypted inside TLS, or in the socket.
  // (Bytes Asio's TLS layer still holds encrypted are not seen: the answer
  // is then "no", which costs the caller a write, never a wait.)
  bool more_arrived();
  // Makes the next read take at once what has already arrived, up to `room`
  // bytes, and returns whether anything had (as more_arrived()). Plain TCP:
  // one non-blocking read straight into `buffer`, which then holds it (no
  // FIONREAD first: that was a system call per stream for a yes or no).
  // TLS: `buffer` gets `room` free bytes if more_arrived(). Either way
  // nothing is held when nothing came, so a connection that waits for its
  // answer keeps its small buffer. An error or EOF met here is left to the
  // next read, which meets it again (EOF) or as EOF (a reset, once reported).
  bool take_arrived(std::size_t room);

  boost::asio::any_io_executor executor;
  std::optional<boost::beast::tcp_stream> plain;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};
  int uses = 0;
};

class ConnectionPool {
 public:
  ConnectionPool(std::size_t max_idle, std::chrono::milliseconds max_idle_age)
      : max_idle_(max_idle), max_idle_age_(max_idle_age) {}

  std::shared_ptr<Connection> take(const boost::asio::any_io_executor& ex);
  void give_back(std::shared_ptr<Connection> c);
  std::size_t idle() const;
  // Closes every idle connection. Call while their io_contexts still exist
  // (after the I/O threads stopped is fine).
  void clear();

 private:
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<Connection>> idle_;  // oldest first
  std::size_t max_idle_;
  std::chrono::milliseconds max_idle_age_;
};

}  // namespace osprey::gateway
