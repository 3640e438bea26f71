#pragma once
// Calls on a socket in non-blocking mode (socket.non_blocking(true)), where
// "would block" is an answer, not a failure. The server and the gateway send
// small messages with send_now() and fall back to an async write only for
// what the socket did not take; reads that may find nothing check
// would_block().

#include <utility>

#include <boost/asio/error.hpp>

namespace osprey::http {

inline bool would_block(const boost::system::error_code& ec) {
  return ec == boost::asio::error::would_block || ec == boost::asio::error::try_again;
}

// Sends what the socket takes now. Returns the bytes sent; when the socket
// would block that is 0 and `ec` is left clear.
template <class Socket, class Buffers>
std::size_t send_now(Socket& socket, const Buffers& buffers, boost::system::error_code& ec) {
  std::size_t sent = socket.write_some(buffers, ec);
  if (would_block(ec)) {
    ec = {};
    sent = 0;
  }
  return sent;
}

}  // namespace osprey::http
