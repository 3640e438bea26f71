#include "server/websocket.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

namespace osprey::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct WebSocketSession::Stream {
  explicit Stream(asio::ip::tcp::socket& s) : ws(s) {}
  websocket::stream<asio::ip::tcp::socket&> ws;
  beast::flat_buffer buffer;
};

WebSocketSession::WebSocketSession(asio::ip::tcp::socket& socket, const http::Request& request)
    : socket_(socket), request_(request) {}

WebSocketSession::~WebSocketSession() = default;

bool WebSocketSession::requested() const { return websocket::is_upgrade(request_); }

http::Awaitable<http::WebSocket*> WebSocketSession::accept(std::size_t max_message_bytes, std::string protocol) {
  ws_ = std::make_unique<Stream>(socket_);
  auto& ws = ws_->ws;
  // Handshake within 30 s; an idle peer gets a ping after half the idle
  // timeout and is dropped when it has not answered by the end of it.
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(30);
  t.idle_timeout = std::chrono::seconds(60);
  t.keep_alive_pings = true;
  ws.set_option(t);
  ws.read_message_max(max_message_bytes);
  ws.auto_fragment(false);  // one frame per answer: clients read it whole
  ws.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
    res.set(beast::http::field::server, "osprey");
    if (!protocol.empty()) res.set(beast::http::field::sec_websocket_protocol, protocol);
  }));
  co_await ws.async_accept(request_, asio::use_awaitable);
  accepted_ = true;
  co_return this;
}

http::Awaitable<bool> WebSocketSession::read(std::string& out, bool& binary) {
  auto& s = *ws_;
  s.buffer.clear();
  boost::system::error_code ec;
  co_await s.ws.async_read(s.buffer, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == websocket::error::closed || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    closed_ = true;
    co_return false;
  }
  if (ec) throw boost::system::system_error(ec);
  binary = s.ws.got_binary();
  out = beast::buffers_to_string(s.buffer.data());
  co_return true;
}

http::Awaitable<void> WebSocketSession::write_text(std::string_view text) {
  auto& ws = ws_->ws;
  ws.text(true);
  co_await ws.async_write(asio::buffer(text.data(), text.size()), asio::use_awaitable);
}

http::Awaitable<void> WebSocketSession::close(std::uint16_t code, std::string_view reason) {
  if (!ws_ || closed_ || !ws_->ws.is_open()) co_return;
  closed_ = true;
  boost::system::error_code ec;
  websocket::close_reason r(static_cast<websocket::close_code>(code), beast::string_view(reason.data(), reason.size()));
  co_await ws_->ws.async_close(r, asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace osprey::server
