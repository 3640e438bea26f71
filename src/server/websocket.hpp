#pragma once
// WebSocketSession: the server's http::WebSocketUpgrade and http::WebSocket
// over a session's socket, on Beast's websocket stream. The session builds
// one only for routes with Route::websocket (so other requests pay nothing)
// and closes the connection once a handler that accepted returns. Internal
// to server/.

#include <utility>

#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "http/message.hpp"
#include "http/websocket.hpp"

namespace osprey::server {

class WebSocketSession final : public http::WebSocketUpgrade, public http::WebSocket {
 public:
  // `request` and `socket` must outlive this object.
  WebSocketSession(boost::asio::ip::tcp::socket& socket, const http::Request& request);
  ~WebSocketSession() override;

  bool requested() const override;
  http::Awaitable<http::WebSocket*> accept(std::size_t max_message_bytes, std::string protocol) override;
  bool accepted() const override { return accepted_; }

  http::Awaitable<bool> read(std::string& out, bool& binary) override;
  http::Awaitable<void> write_text(std::string_view text) override;
  http::Awaitable<void> close(std::uint16_t code, std::string_view reason) override;

 private:
  struct Stream;  // Beast's websocket stream (kept out of this header: it is heavy)
  boost::asio::ip::tcp::socket& socket_;
  const http::Request& request_;
  std::unique_ptr<Stream> ws_;
  bool accepted_ = false;
  bool closed_ = false;
};

}  // namespace osprey::server
