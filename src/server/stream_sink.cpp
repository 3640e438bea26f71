#include "server/stream_sink.hpp"

#include <boost/beast/core/buffers_suffix.hpp>

#include <charconv>
#include <stdexcept>

#include "http/nonblocking.hpp"
#include "http/wire.hpp"
#include "server/write_all.hpp"

namespace osprey::server {

namespace asio = boost::asio;
namespace beast = boost::beast;

// A stalled reader must not hold a stream (and its upstream) forever.
constexpr std::chrono::milliseconds kWriteTimeout{30'000};

// A chunk is small and a live client reads: the socket nearly always takes
// it at once. So it is sent now (the session's socket is non-blocking), and
// only what the socket did not take goes through an async write under the
// write timeout: an async write for every chunk cost a timer, a posted
// completion and a trip through the scheduler.
http::Awaitable<void> StreamSinkImpl::send(const Parts& parts) {
  boost::system::error_code ec;
  const std::size_t total = asio::buffer_size(parts);
  const std::size_t sent = http::send_now(socket_, parts, ec);
  if (!ec && sent < total) {
    beast::buffers_suffix<Parts> rest(parts);
    rest.consume(sent);
    co_await write_all(socket_, conn_, rest, kWriteTimeout, ec);
  }
  if (!head_.empty()) {
    head_.clear();
    head_.shrink_to_fit();  // an open stream keeps its sink for minutes
  }
  if (ec) {
    healthy_ = false;
    throw boost::system::system_error(ec);
  }
}

void StreamSinkImpl::frame(std::size_t n) {
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, n, 16);
  frame_.assign(hex, end);
  frame_.append("\r\n");
}

http::Awaitable<void> StreamSinkImpl::begin(http::Response head) {
  if (started_) throw std::logic_error("StreamSink::begin called twice");
  started_ = true;
  head.version(version_);
  head.body().clear();
  if (extra_headers)
    for (const auto& [k, v] : *extra_headers)
      if (head.find(k) == head.end()) head.set(k, v);
  // Held: it leaves with the first chunk, or on its own with flush().
  if (version_ == 11 && !http::has_field(head, http::Field::transfer_encoding) &&
      !http::has_field(head, http::Field::connection) && !http::has_field(head, http::Field::content_length)) {
    // The usual head: the framing fields written as they are, rather than
    // through Beast's chunked() and keep_alive(), which parse and rewrite
    // token lists (a tenth of a relayed stream's work, before).
    http::write_head(head, head_, draining_.load() ? "Transfer-Encoding: chunked\r\nConnection: close\r\n"
                                                   : "Transfer-Encoding: chunked\r\n");
  } else {
    head.chunked(true);
    head.keep_alive(head.keep_alive() && !draining_.load());
    http::write_head(head, head_);
  }
  co_return;
}

http::Awaitable<void> StreamSinkImpl::flush() {
  if (!started_ || head_.empty()) co_return;
  const Parts parts{asio::buffer(head_)};
  co_await send(parts);
}

http::Awaitable<void> StreamSinkImpl::write(std::string_view chunk) {
  if (!started_ || finished_) throw std::logic_error("StreamSink::write outside begin/end");
  if (chunk.empty()) co_return;  // an empty chunk would end the response
  frame(chunk.size());
  const Parts parts{asio::buffer(head_), asio::buffer(frame_), asio::buffer(chunk.data(), chunk.size()),
                    asio::buffer("\r\n", 2)};
  co_await send(parts);
}

http::Awaitable<void> StreamSinkImpl::end(std::string_view last_chunk) {
  if (!started_ || finished_) co_return;
  finished_ = true;
  static constexpr std::string_view kLast = "0\r\n\r\n";
  static constexpr std::string_view kCrlfLast = "\r\n0\r\n\r\n";
  Parts parts{asio::buffer(head_), asio::buffer(kLast.data(), kLast.size())};
  if (!last_chunk.empty()) {
    frame(last_chunk.size());
    parts = {asio::buffer(head_), asio::buffer(frame_), asio::buffer(last_chunk.data(), last_chunk.size()),
             asio::buffer(kCrlfLast.data(), kCrlfLast.size())};
  }
  co_await send(parts);
}

}  // namespace osprey::server
