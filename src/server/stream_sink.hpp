#pragma once
// StreamSinkImpl: the server's http::StreamSink, writing a chunked
// (Transfer-Encoding: chunked) response straight to the connection. Each
// write() is one chunk and one socket write, so Server-Sent Events reach
// the client as soon as the handler produces them; the head rides in the
// first of them (a relayed stream whose events came with the upstream's
// head costs one write, not two). Internal to server/.

#include <utility>

#include <array>
#include <atomic>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "http/context.hpp"
#include "server/worker.hpp"

namespace osprey::server {

class StreamSinkImpl final : public http::StreamSink {
 public:
  // Writes that wait go under `conn`'s deadline (server/write_all.hpp).
  StreamSinkImpl(boost::asio::ip::tcp::socket& socket, Connection& conn, unsigned version,
                 const std::atomic<bool>& draining)
      : socket_(socket), conn_(conn), version_(version), draining_(draining) {}

  http::Awaitable<void> begin(http::Response head) override;
  http::Awaitable<void> write(std::string_view chunk) override;
  http::Awaitable<void> end(std::string_view last_chunk) override;
  http::Awaitable<void> flush() override;
  bool started() const override { return started_; }

  bool finished() const { return finished_; }
  // Headers every response carries (request id, rate limits): set by the
  // session to the request's ctx.response_headers.
  const http::HeaderList* extra_headers = nullptr;
  bool healthy() const { return healthy_; }

 private:
  // The held head (empty once sent), then a chunk's size line, data, end.
  using Parts = std::array<boost::asio::const_buffer, 4>;
  // Sends `parts` (unused ones empty), then releases the head; throws
  // system_error if that fails.
  // (By reference: g++ 12 cannot keep a temporary std::array in a
  // coroutine frame, so callers pass a local, which outlives the call.)
  http::Awaitable<void> send(const Parts& parts);
  // "<size in hex>\r\n" in frame_, for a chunk of n bytes.
  void frame(std::size_t n);

  boost::asio::ip::tcp::socket& socket_;
  Connection& conn_;
  unsigned version_;
  const std::atomic<bool>& draining_;
  bool started_ = false;
  bool finished_ = false;
  bool healthy_ = true;
  std::string head_;     // the response head, formatted; held until the first send
  std::string frame_;    // a chunk's size line
};

}  // namespace osprey::server
