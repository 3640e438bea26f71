#pragma once
// WebSocket: a connection that a route upgraded from its HTTP request.
//
// A route that sets Route::websocket gets ctx.websocket. Its handler runs
// the auth and limit middleware like any other (they see the HTTP upgrade
// request), then accepts and keeps the connection as long as it wants:
//
//   .handler = [](Context& ctx) -> Awaitable<Response> {
//     if (!ctx.websocket->requested()) throw ApiError(426, "...");
//     http::WebSocket* ws = co_await ctx.websocket->accept(8 << 20, "");
//     std::string msg; bool binary = false;
//     while (co_await ws->read(msg, binary)) co_await ws->write_text("ok");
//     co_return Response{};  // ignored once accepted: the connection closes
//   },
//
// One read and one write may be in flight at once (from two coroutines on
// the connection's executor), as with Beast's websocket stream underneath.
// Idle connections are kept alive with pings and closed when the peer stops
// answering them. A handler that refuses before accept() answers with a
// normal HTTP error response.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace osprey::http {

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // The next whole message into `out`. False once the peer closed the
  // connection (close frame or EOF) or it timed out; throws
  // boost::system::system_error on other failures (a message over the cap).
  virtual Awaitable<bool> read(std::string& out, bool& binary) = 0;
  // Throws boost::system::system_error when the peer is gone.
  virtual Awaitable<void> write_text(std::string_view text) = 0;
  // Sends a close frame (code 1000 normal, 1008 policy, 1011 error); never throws.
  virtual Awaitable<void> close(std::uint16_t code, std::string_view reason) = 0;
};

class WebSocketUpgrade {
 public:
  virtual ~WebSocketUpgrade() = default;
  // Whether the request is a valid WebSocket upgrade (GET, Upgrade: websocket, key, version 13).
  virtual bool requested() const = 0;
  // Answers 101 (with Sec-WebSocket-Protocol: `protocol` when not empty)
  // and returns the connection, which lives until the handler returns.
  // Incoming messages over `max_message_bytes` fail the read. Throws
  // boost::system::system_error when the handshake fails.
  virtual Awaitable<WebSocket*> accept(std::size_t max_message_bytes, std::string protocol) = 0;
  virtual bool accepted() const = 0;
};

}  // namespace osprey::http
