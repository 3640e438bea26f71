// Gateway::exchange: one request and its answer on a connection to the
// upstream (see exchange.hpp): the request head formatted by hand, the
// answer read from what has already arrived when it can be, a stream's
// events relayed as its reads complete them.

#include "gateway/exchange.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "gateway/event_relay.hpp"
#include "gateway/request_head.hpp"
#include "gateway/upstream_parser.hpp"
#include "http/nonblocking.hpp"
#include "http/thread_load.hpp"

namespace osprey::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;

namespace {

// Bodies up to this size are copied behind the request head and sent as one
// buffer; larger ones go out in place, in a gathered write.
constexpr std::size_t kCopyBodyBytes = 16 * 1024;

// What a stream's body is read into. Not a vector<char>: each size it grows
// to would be zero-filled first, to be overwritten by the read.
class RelayBuffer {
 public:
  char* data() { return bytes_.get(); }
  std::size_t size() const { return size_; }
  // Drops the contents.
  void resize(std::size_t n) {
    if (n == size_) return;
    bytes_.reset(n ? new char[n] : nullptr);
    size_ = n;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_ = 0;
};

// Feeds the parser what `buffer` already holds, as Beast's read_some does
// before it reads: true when that was enough (the parser moved on, or
// failed: see `ec`), false when it needs bytes from the socket (then
// read_some parses again with them). Saves an Asio operation (its
// allocation, post and resumption) for an answer that take_arrived() or an
// earlier read brought in whole.
bool parse_buffered(beast::flat_buffer& buffer, UpstreamParser& p, beast::error_code& ec) {
  if (buffer.size() == 0) return false;
  buffer.consume(p.put(buffer.data(), ec));
  if (ec != bhttp::error::need_more) return true;
  ec = {};
  return false;
}

void io_failure(Gateway::Exchange& x, const beast::error_code& ec, const char* what) {
  if (x.cancel && x.cancel->cancelled()) {
    x.fail = Fail::cancelled;
  } else if (ec == beast::error::timeout) {
    x.fail = Fail::timeout;
  } else if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    x.fail = Fail::too_large;
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && ec != bhttp::error::end_of_stream &&
             ec != bhttp::error::partial_message) {
    x.fail = Fail::invalid;  // not HTTP
  } else {
    x.fail = Fail::reset;
  }
  x.detail = std::string(what) + ": " + ec.message();
}

}  // namespace

template <class S>
http::Awaitable<void> Gateway::exchange(S& s, Connection& c, Exchange& x, const StreamCallbacks* cb) {
  beast::error_code ec;
  // Each wait on the socket below sets its own deadline first: the stream's
  // timer still holds the last one (this connection's previous request).
  {
    // The head formatted by hand (Beast's serializer cost more than the
    // socket call); a small body rides in the same buffer. Scoped: freed
    // once sent, not kept for as long as a stream runs.
    std::string out;
    const bool with_body = x.verb != http::Verb::get || !x.body.empty();
    const std::size_t body_bytes = with_body ? x.body.size() : 0;
    const bool copy_body = body_bytes <= kCopyBodyBytes;
    out.reserve(256 + (copy_body ? body_bytes : 0));
    format_request_head(out, x.verb, x.target, host_header_, x.ring->empty() ? std::string_view() : std::string_view(x.ring->key(x.key_index)),
                        cb ? "text/event-stream" : "application/json", with_body, body_bytes);
    if (copy_body && with_body) out.append(x.body);
    std::array<asio::const_buffer, 2> parts{asio::buffer(out),
                                            copy_body ? asio::const_buffer() : asio::buffer(x.body)};
    std::size_t sent = 0;
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
      // Plain TCP: the request nearly always fits the socket's send buffer,
      // so send it now rather than through an async write, whose completion
      // is posted and resumes this coroutine through the scheduler.
      sent = http::send_now(c.tcp().socket(), parts, ec);
    }
    const std::size_t total = out.size() + (copy_body ? 0 : body_bytes);
    if (!ec && sent < total) {
      beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(parts);
      rest.consume(sent);
      c.tcp().expires_after(std::chrono::milliseconds(cfg_.first_byte_timeout_ms));
      co_await asio::async_write(s, rest, asio::redirect_error(use_awaitable, ec));
    }
  }
  if (ec) co_return io_failure(x, ec, "sending the request");

  UpstreamParser p;
  p.header_limit(64 * 1024);
  p.body_limit(cfg_.max_response_bytes);
  // The answer takes a round trip: with other requests in flight, let the
  // loop run them first rather than try a read that finds nothing (see
  // http/thread_load.hpp).
  const bool yielded = http::others_in_flight(1);
  if (yielded) co_await asio::post(c.executor, use_awaitable);
  // Beast sizes each read by the buffer's free capacity (at least 512
  // bytes): room for a whole typical JSON answer (head and body) makes it
  // one read rather than two. A stream takes a burst's worth (see relay_buf
  // below) when its answer has already arrived: a fast upstream sends its
  // head and the first events, or all of a short answer, at once. Not to
  // wait with that room: 10k streams waiting for their upstreams' heads
  // would hold 16 KiB each. The room is given back below once the buffered
  // bytes are consumed, so a stream that waits for its next event holds
  // none of it.
  //
  // take_arrived() reads the socket itself, so Beast then parses from the
  // buffer without an Asio read operation (its try, its completion, the
  // stream's timer): for a stream always (it replaces a FIONREAD), for a
  // JSON answer on plain TCP when the post above gave it time to arrive.
  // Alone on the thread the answer is not there yet, and Asio's own try
  // would follow a failed one.
  constexpr std::size_t kAnswerRoom = 4096;
  constexpr std::size_t kRelayIdle = 1024, kRelayBurst = 16 * 1024;
  if (cb) {
    c.take_arrived(kRelayBurst);
  } else if (!(yielded && !c.tls && c.take_arrived(kAnswerRoom)) && c.buffer.capacity() - c.buffer.size() < kAnswerRoom) {
    c.buffer.reserve(c.buffer.size() + kAnswerRoom);
  }
  if (!parse_buffered(c.buffer, p, ec) || (!ec && !p.is_header_done())) {
    c.tcp().expires_after(std::chrono::milliseconds(cfg_.first_byte_timeout_ms));
    co_await bhttp::async_read_header(s, c.buffer, p, asio::redirect_error(use_awaitable, ec));
  }
  if (ec) co_return io_failure(x, ec, "waiting for the response");
  x.header_received = true;
  x.status = p.status;
  x.content_type = std::move(p.content_type);
  x.retry_after = std::move(p.retry_after);
  x.retry_after_ms = std::move(p.retry_after_ms);
  const bool relay = cb && x.status == 200;
  if (relay) {
    try {
      co_await cb->on_open();
    } catch (...) {
      x.callback_error = std::current_exception();
      c.close();
      co_return;
    }
    x.opened = true;
    // Only the head came: the stream waits with as little memory as it can.
    if (c.buffer.size() == 0) c.buffer.shrink_to_fit();
  }

  std::optional<EventRelay> events;
  if (relay) events.emplace(*x.ring, *cb, cfg_.max_response_bytes);
  // A relayed stream may stay open for minutes (10k of them): while it waits
  // for the next event its buffers are small (1 KiB, and the connection's
  // read buffer released). When a read fills the buffer, more is probably
  // waiting (a burst): the next read gets 16 KiB, and one socket read and
  // one client write carry many events; events that came with the head are
  // taken in one go. A JSON answer is read straight into body_out, which it
  // ends up in anyway (no buffer, no copy).
  RelayBuffer relay_buf;
  if (relay) relay_buf.resize(std::clamp<std::size_t>(c.buffer.size(), kRelayIdle, kRelayBurst));
  constexpr std::size_t kJsonStep = 4096, kJsonMaxStep = 64 * 1024;
  // Held events go out before any wait on the socket: only the end of the
  // body, when it has already arrived (a chunked body's last chunk), is
  // read before them. So does what on_open held (the client's response
  // head), when no event came with it (gateway.hpp).
  bool held = false;
  bool unflushed = relay && cb->on_flush;
  auto flush = [&]() -> http::Awaitable<bool> {
    held = false;
    unflushed = false;
    try {
      co_await cb->on_flush();
    } catch (...) {
      x.callback_error = std::current_exception();
      c.close();
      co_return false;
    }
    co_return true;
  };
  while (!p.is_done()) {
    if ((held || unflushed) && !c.more_arrived() && !co_await flush()) co_return;
    const bool from_buffer = c.buffer.size() > 0;
    std::size_t had = x.body_out.size();
    std::size_t room = relay_buf.size();
    if (relay) {
      p.body_data = relay_buf.data();
    } else {
      // A Content-Length says how much is coming: size the body for it
      // (resize zero-fills what it adds, so not 4 KiB for a 600-byte answer).
      room = kJsonStep;
      if (auto left = p.content_length_remaining(); left && *left > 0) room = std::min<std::uint64_t>(*left, kJsonMaxStep);
      x.body_out.resize(had + room);
      p.body_data = x.body_out.data() + had;
    }
    p.body_room = room;
    // Beast reads at most max(512, the buffer's free room) bytes at once.
    const std::size_t read_room = std::max<std::size_t>(512, c.buffer.capacity() - c.buffer.size());
    // What a socket read brought (it counts below only when the buffer was
    // empty, so the buffered parse needs none).
    std::size_t raw = 0;
    if (!parse_buffered(c.buffer, p, ec)) {
      c.tcp().expires_after(std::chrono::milliseconds(cfg_.idle_timeout_ms));
      raw = co_await bhttp::async_read_some(s, c.buffer, p, asio::redirect_error(use_awaitable, ec));
    }
    const std::size_t n = room - p.body_room;
    if (!relay) x.body_out.resize(had + n);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return io_failure(x, ec, "reading the response");
    if (!relay) continue;  // body_out: bounded by body_limit
    // A burst: the relay buffer or the socket read came back full, so more is
    // probably waiting (the read's room is small while a stream idles). Not
    // the bytes that came with the head: relay_buf was sized to take them
    // at once, and they say nothing of what follows (10k streams opening
    // together must not each grow their buffers).
    const bool burst = n == room || (!from_buffer && raw >= read_room);
    if (n == 0) continue;
    std::size_t completed = 0;
    try {
      completed = events->feed(std::string_view(relay_buf.data(), n));
    } catch (const std::length_error&) {
      x.fail = Fail::too_large;
      x.detail = "an upstream SSE event exceeds gateway.max_response_bytes";
      c.close();
      co_return;
    }
    x.done = events->done();
    if (events->error()) {
      x.callback_error = events->error();
      c.close();
      co_return;
    }
    // The events that came with [DONE] or the body's end are held for the
    // caller, which writes them with the end of its response (gateway.hpp).
    if (completed > 0 && cb->on_flush) {
      held = x.done || p.is_done();
      if (!held && !co_await flush()) co_return;
    }
    if (burst && relay_buf.size() < kRelayBurst) {
      relay_buf.resize(kRelayBurst);
      c.buffer.reserve(kRelayBurst);
    } else if (!burst) {
      if (relay_buf.size() > kRelayIdle) relay_buf.resize(kRelayIdle);
      // Also the room of the read that brought the head (and events with
      // it); what it may still hold is a few bytes of chunk framing.
      if (c.buffer.capacity() > kRelayIdle) c.buffer.shrink_to_fit();
    }
  }
  if (relay) x.done = true;  // a clean end of body counts as the end of the stream
  x.keep_alive = p.keep_alive();
}

// The two kinds of connection attempt() hands over.
template http::Awaitable<void> Gateway::exchange(beast::tcp_stream&, Connection&, Exchange&, const StreamCallbacks*);
template http::Awaitable<void> Gateway::exchange(beast::ssl_stream<beast::tcp_stream>&, Connection&, Exchange&,
                                                 const StreamCallbacks*);

}  // namespace osprey::gateway
