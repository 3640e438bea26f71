// One connection: read a request, dispatch it through the router, write the
// response, repeat while keep-alive holds. See server.hpp for the contract.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <limits>

#include "common/error.hpp"
#include "http/nonblocking.hpp"
#include "http/response.hpp"
#include "http/thread_load.hpp"
#include "http/wire.hpp"
#include "server/stream_sink.hpp"
#include "server/websocket.hpp"
#include "server/worker.hpp"
#include "server/write_all.hpp"

namespace osprey::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

// Registers the connection with its worker for the life of the session and
// keeps the process-wide counters straight.
struct ConnectionGuard {
  Server::Worker& w;
  Connection conn;
  std::list<Connection*>::iterator it;
  ConnectionGuard(Server::Worker& worker, tcp::socket& s) : w(worker) {
    conn.socket = &s;
    conn.clock = &w.clock;
    it = w.connections.insert(w.connections.end(), &conn);
    w.shared->connections->fetch_add(1);
  }
  ~ConnectionGuard() {
    w.connections.erase(it);
    w.shared->connections->fetch_sub(1);
  }
};

struct InFlightGuard {
  std::atomic<std::size_t>& n;
  explicit InFlightGuard(std::atomic<std::size_t>& c) : n(c) { n.fetch_add(1); }
  ~InFlightGuard() { n.fetch_sub(1); }
};

// Answers a request that never reached the router (limits, timeouts, parse
// errors) and closes the connection: after such an error the byte stream can
// no longer be trusted to be in sync.
asio::awaitable<void> reply_and_close(tcp::socket& socket, Connection& conn, unsigned version, const ApiError& err) {
  http::Request req;
  req.version(version ? version : 11);
  req.keep_alive(false);
  auto res = http::error_response(req, err, http::ErrorStyle::openai);
  res.keep_alive(false);
  std::string out, framing;
  http::write_head(res, out);
  auto body = http::body_view(res, framing);
  for (std::size_t i = 0; i < body.count; ++i) out.append(body.part[i]);
  boost::system::error_code ec;
  co_await send_all(socket, conn, asio::buffer(out), milliseconds(5000), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

// Why a request was refused before it reached the router.
enum class Refusal { header_too_large, header_timeout, bad_header, body_too_large, body_timeout, bad_body };

struct Refused {
  Refusal why;
  unsigned version = 11;
  std::size_t limit = 0;      // the size limit that was passed
  std::uint64_t declared = 0;  // the body's Content-Length, if it said
  boost::system::error_code ec;
};

// Builds the error here, and the session awaits this at one place: every
// temporary of a co_await expression gets its own slot in the session's
// coroutine frame, which every open connection carries (seven ApiErrors
// made it ~5 KiB).
asio::awaitable<void> refuse(tcp::socket& socket, Connection& conn, const Refused& r) {
  const auto& [why, version, limit, declared, ec] = r;
  std::optional<ApiError> err;
  switch (why) {
    case Refusal::header_too_large:
      err.emplace(431, "request header fields too large (limit " + std::to_string(limit) + " bytes)",
                  "invalid_request_error", "header_too_large");
      break;
    case Refusal::header_timeout:
      err.emplace(408, "request header not received in time", "invalid_request_error", "request_timeout");
      break;
    case Refusal::bad_header:
      err.emplace(400, "malformed HTTP request: " + ec.message(), "invalid_request_error", "bad_request");
      break;
    case Refusal::body_too_large:
      err.emplace(413,
                  declared ? "request body too large (" + std::to_string(declared) + " bytes; limit " +
                                 std::to_string(limit) + " for this route)"
                           : "request body too large (limit " + std::to_string(limit) + " bytes for this route)",
                  "invalid_request_error", "body_too_large");
      break;
    case Refusal::body_timeout:
      err.emplace(408, "request body not received in time", "invalid_request_error", "request_timeout");
      break;
    case Refusal::bad_body:
      err.emplace(400, "malformed request body: " + ec.message(), "invalid_request_error", "bad_request");
      break;
  }
  co_await reply_and_close(socket, conn, version, *err);
}

std::string make_request_id() {
  // Unique per process run without a syscall: a random per-thread prefix
  // plus a counter. 15 characters, so the string needs no allocation.
  thread_local std::uint64_t prefix = [] {
    std::uint64_t x = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    x ^= reinterpret_cast<std::uintptr_t>(&x);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
  }();
  thread_local std::uint64_t counter = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  // 6 hex digits of prefix, then the counter in 9 (more past 2^36).
  std::uint64_t c = ++counter;
  int digits = 9;
  while (digits < 16 && (c >> (4 * digits)) != 0) ++digits;
  std::string id(static_cast<std::size_t>(6 + digits), '0');
  for (int i = 0; i < 6; ++i) id[static_cast<std::size_t>(5 - i)] = kHex[(prefix >> (4 * i)) & 0xf];
  for (int i = 0; i < digits; ++i) id[static_cast<std::size_t>(5 + digits - i)] = kHex[(c >> (4 * i)) & 0xf];
  return id;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

// Watches a connection while a long handler runs, so that a client that hangs
// up cancels the work (an upstream call) at once. Data that arrives instead
// (a pipelined request) is kept in the buffer for the next read.
asio::awaitable<void> watch_for_close(tcp::socket& socket, beast::flat_buffer& buffer,
                                      std::shared_ptr<http::Cancellation> cancel, std::shared_ptr<bool> done,
                                      std::shared_ptr<asio::steady_timer> notify) {
  // The handler may have finished before this coroutine first ran (it was
  // posted): then there is nothing to watch, and no read to cancel later.
  if (*done) {
    notify->cancel();
    co_return;
  }
  boost::system::error_code ec;
  // A few bytes suffice: a close shows as EOF (also one that arrived
  // together with the request: Asio's read tries the socket before it waits
  // for epoll), and data (a pipelined request) ends the watch and stays
  // buffered for the next read.
  std::size_t n =
      co_await socket.async_read_some(buffer.prepare(16), asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) buffer.commit(n);
  if (ec && ec != asio::error::operation_aborted && !*done) cancel->cancel();
  *done = true;
  notify->cancel();
}

// A watcher for one request, started late (Connection::defer_watch): the
// request has been running for a tick, so it may well run for seconds or
// minutes (a stream).
struct CloseWatch {
  tcp::socket& socket;
  beast::flat_buffer& buffer;
  std::shared_ptr<http::Cancellation> cancel;
  std::shared_ptr<bool> done;  // set once started
  std::shared_ptr<asio::steady_timer> notify;

  static void start(void* self) {
    auto& w = *static_cast<CloseWatch*>(self);
    // A long-lived request: give back the read buffer's memory while it
    // runs (10k open streams x 16 KiB adds up).
    if (w.buffer.size() == 0) w.buffer.shrink_to_fit();
    w.done = std::make_shared<bool>(false);
    w.notify = std::make_shared<asio::steady_timer>(w.socket.get_executor(), asio::steady_timer::time_point::max());
    asio::co_spawn(w.socket.get_executor(), watch_for_close(w.socket, w.buffer, w.cancel, w.done, w.notify),
                   asio::detached);
  }
};

// Ends a watch that started (the request outlived a tick) and is still
// reading, and waits until the watcher has let go of the connection.
asio::awaitable<void> stop_watch(CloseWatch& w) {
  boost::system::error_code ec;
  *w.done = true;
  w.socket.cancel(ec);  // ends the watcher's read
  co_await w.notify->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

using Parser = bhttp::request_parser<bhttp::string_body>;

// Bodies up to this size are copied behind the response head and sent as one
// buffer; the copy costs less than a gathered write.
constexpr std::size_t kCopyBodyBytes = 2048;

// Feeds the buffered bytes to the parser. Returns true when the header
// (header_only) or the whole message is in, or on a parse error (in ec);
// false when the parser needs more bytes from the socket.
bool parse_buffered(beast::flat_buffer& buffer, Parser& parser, bool header_only, boost::system::error_code& ec) {
  auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
  while (buffer.size() > 0 && !done()) {
    std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      return false;
    }
    if (ec) return true;
    if (used == 0) return false;
  }
  return done();
}

// Feeds the buffered bytes to the parser, reading more from the socket only
// when it needs them, until the header (header_only) or the whole message is
// in. Most requests arrive in one segment, so usually this parses without
// suspending. Returns Beast's parse errors, end_of_stream when the peer
// closed before sending a byte of this message, or the socket's error
// (operation_aborted when the connection's deadline fired).
asio::awaitable<boost::system::error_code> read_message(tcp::socket& socket, beast::flat_buffer& buffer,
                                                        Parser& parser, bool header_only) {
  boost::system::error_code ec;
  auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
  for (;;) {
    if (parse_buffered(buffer, parser, header_only, ec)) co_return ec;
    // Header bytes come in small reads (the parser rescans them), body bytes
    // in large ones.
    std::size_t want = parser.is_header_done() ? 64 * 1024 : 4096;
    auto n = co_await socket.async_read_some(buffer.prepare(want), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      ec = {};
      parser.put_eof(ec);
      if (!ec && !done()) ec = bhttp::error::partial_message;
      co_return ec;
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// The rare paths of a response, kept out of run_session: every local and
// temporary of a coroutine gets its own slot in its frame (g++ does not
// share them between branches), and every open connection carries that
// frame.

// To a client that asked before sending its body.
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// What the socket did not take of a small response (`out` from `sent` on).
asio::awaitable<void> write_rest(tcp::socket& socket, Connection& conn, const std::string& out, std::size_t sent,
                                 int timeout_ms, boost::system::error_code& ec) {
  const auto rest = asio::buffer(out.data() + sent, out.size() - sent);
  co_await write_all(socket, conn, rest, milliseconds(timeout_ms), ec);
}

// A large response: the head, then the body in place (no copy).
asio::awaitable<void> write_large(tcp::socket& socket, Connection& conn, const std::string& head,
                                  const http::BodyParts& body, int timeout_ms, boost::system::error_code& ec) {
  std::array<asio::const_buffer, 4> out{asio::buffer(head)};
  for (std::size_t i = 0; i < body.count; ++i) out[i + 1] = asio::buffer(body.part[i]);
  co_await write_all(socket, conn, out, milliseconds(timeout_ms), ec);
}

}  // namespace

asio::awaitable<void> run_session(tcp::socket socket, Server::Worker& worker) {
  auto& shared = *worker.shared;
  const auto& cfg = shared.cfg;
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  // Synchronous writes below must fail with would_block, not wait.
  socket.non_blocking(true, ec);
  std::string remote;
  if (auto ep = socket.remote_endpoint(ec); !ec) remote = ep.address().to_string();
  beast::flat_buffer buffer;
  ConnectionGuard guard(worker, socket);
  auto& deadline = guard.conn;
  std::string head;     // the response head, reused across requests
  std::string framing;  // chunk framing of a chunked response body
  std::shared_ptr<http::Cancellation> cancel;
  const auto executor = socket.get_executor();
  std::optional<Refused> refused;  // answered once the loop is left

  for (;;) {
    // Draining: no new requests, except one whose bytes had already arrived
    // on a connection accepted just before the drain began.
    if (shared.draining && buffer.size() == 0 && socket.available(ec) == 0) break;
    // Idle: wait for the first byte of the next request (unless pipelined
    // bytes are already buffered).
    if (buffer.size() == 0) {
      guard.conn.idle = true;
      deadline.arm(milliseconds(cfg.idle_timeout_ms));
      // See http/thread_load.hpp: with other requests in flight, the next
      // request has usually arrived once the loop's queued work has run, so
      // it is read at once.
      std::size_t n = 0;
      ec = asio::error::would_block;
      if (http::others_in_flight(0)) {
        co_await asio::post(executor, asio::use_awaitable);
        n = socket.read_some(buffer.prepare(4096), ec);  // non-blocking
      }
      if (http::would_block(ec))
        n = co_await socket.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
      deadline.disarm();
      if (ec) break;  // closed, idle timeout, or shutdown: nothing to answer
      buffer.commit(n);
    }
    guard.conn.idle = false;

    Parser parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
    // The body cap depends on the route, known only once the header is in.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: Beast 1.74 compares it as "exceeded"
    deadline.arm(milliseconds(cfg.header_timeout_ms));
    // Usually the whole header is already buffered: parse it without the
    // coroutine frame a read would need.
    ec = {};
    if (!parse_buffered(buffer, parser, true, ec)) ec = co_await read_message(socket, buffer, parser, true);
    deadline.disarm();
    if (ec && deadline.expired) ec = beast::error::timeout;
    if (ec) {
      if (ec == bhttp::error::header_limit)
        refused = Refused{Refusal::header_too_large, 11, cfg.max_header_bytes, 0, ec};
      else if (ec == beast::error::timeout)
        refused = Refused{Refusal::header_timeout, 11, 0, 0, ec};
      else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
               ec != asio::error::connection_reset && ec != asio::error::operation_aborted)
        refused = Refused{Refusal::bad_header, 11, 0, 0, ec};
      break;
    }

    auto& req_head = parser.get();
    // The worker's router; `hold` keeps it alive once this request may
    // suspend (a reload can replace the worker's copy meanwhile).
    const auto& current = worker.current_router();
    const http::Router* router = current.get();
    std::shared_ptr<const http::Router> hold;
    std::string_view target = req_head.target();
    auto qpos = target.find('?');
    std::string_view path = target.substr(0, qpos);
    auto match = router->match(req_head.method(), path);
    std::size_t limit = cfg.max_body_bytes;
    if (match.route && match.route->max_body_bytes) limit = match.route->max_body_bytes;
    parser.body_limit(limit);
    if (auto cl = parser.content_length(); cl && *cl > limit) {
      refused = Refused{Refusal::body_too_large, req_head.version(), limit, *cl, ec};
      break;
    }
    if (!parser.is_done()) {
      hold = current;
      if (beast::iequals(req_head[bhttp::field::expect], "100-continue")) {
        co_await send_all(socket, deadline, asio::buffer(kContinue.data(), kContinue.size()),
                          milliseconds(cfg.body_timeout_ms), ec);
        if (ec) break;
      }
      deadline.arm(milliseconds(cfg.body_timeout_ms));
      ec = co_await read_message(socket, buffer, parser, false);
      deadline.disarm();
      if (ec && deadline.expired) ec = beast::error::timeout;
      if (ec) {
        if (ec == bhttp::error::body_limit)
          refused = Refused{Refusal::body_too_large, req_head.version(), limit, 0, ec};
        else if (ec == beast::error::timeout)
          refused = Refused{Refusal::body_timeout, req_head.version(), 0, 0, ec};
        else if (ec != asio::error::eof && ec != asio::error::connection_reset)
          refused = Refused{Refusal::bad_body, req_head.version(), 0, 0, ec};
        break;
      }
    }
    InFlightGuard in_flight(*shared.in_flight);
    http::InFlightOnThisThread in_flight_here;
    http::Request& req = parser.get();
    // The connection's Cancellation is reused while nothing else holds it
    // (an upstream call may keep one past its request) and it never fired.
    if (!cancel || cancel.use_count() > 1 || cancel->cancelled()) cancel = std::make_shared<http::Cancellation>();
    http::Context ctx{.request = req, .path = path, .cancellation = std::move(cancel)};
    bool sync = router->synchronous(match);
    if (!sync) {
      if (!hold) hold = current;
      ctx.executor = executor;
    }
    ctx.remote_address = remote;
    auto incoming_id = req["x-request-id"];
    ctx.request_id = acceptable_request_id(incoming_id) ? std::string(incoming_id) : make_request_id();
    StreamSinkImpl sink(socket, deadline, req.version(), shared.draining);
    sink.extra_headers = &ctx.response_headers;
    ctx.stream = &sink;
    std::optional<WebSocketSession> upgrade;  // only for WebSocket routes
    if (match.route && match.route->websocket) {
      upgrade.emplace(socket, req);
      ctx.websocket = &*upgrade;
    }

    http::Response res;
    bool parsed_query = true;
    try {
      ctx.query = http::Query::parse(qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1));
    } catch (const ApiError& e) {
      parsed_query = false;
      res = http::error_response(req, e, http::ErrorStyle::openai);
    }
    if (parsed_query) {
      const bool watch = match.route && match.route->streaming;
      if (sync && !watch) {
        res = router->dispatch_sync(ctx, std::move(match));
      } else {
        // One co_await site for both cases: each would have its own slots
        // for the awaitable and the Response in the frame.
        CloseWatch cw{socket, buffer, nullptr};
        if (watch) {
          // The worker's sweep starts the watcher if the handler is still
          // running a tick from now (see Connection::defer_watch).
          cw.cancel = ctx.cancellation;
          guard.conn.defer_watch(&CloseWatch::start, &cw);
        }
        res = co_await router->dispatch(ctx, std::move(match));
        if (watch) {
          guard.conn.drop_watch();
          if (cw.done && !*cw.done) co_await stop_watch(cw);
        }
      }
    }
    ctx.cancellation->clear_callbacks();
    cancel = std::move(ctx.cancellation);
    if (upgrade && upgrade->accepted()) break;  // the WebSocket ran its course: the connection is done

    if (sink.started()) {
      if (!sink.finished() || !sink.healthy() || shared.draining || !http::keep_alive(req)) break;
      continue;
    }
    bool res_keep = http::keep_alive(res);
    bool keep = res_keep && http::keep_alive(req) && !shared.draining;
    if (keep != res_keep) res.keep_alive(keep);
    if (req.method() == bhttp::verb::head) {
      // The head a GET would get, with its length, and no body.
      auto len = res.body().size();
      res.body().clear();
      if (!http::bodyless(res) && !http::has_field(res, http::Field::content_length)) res.content_length(len);  // also drops chunked
    }
    // One write: the head formatted here, then the body. A small body is
    // copied behind the head (one buffer: a plain send, no gather list); a
    // large one is sent in place.
    http::write_head(res, head);
    auto body = http::body_view(res, framing);
    std::size_t body_bytes = 0;
    for (std::size_t i = 0; i < body.count; ++i) body_bytes += body.part[i].size();
    if (body_bytes <= kCopyBodyBytes) {
      for (std::size_t i = 0; i < body.count; ++i) head.append(body.part[i]);
      // A small response nearly always fits the socket's send buffer: send
      // it now. An async write would post its completion and resume this
      // coroutine through the scheduler, which costs more than the send
      // (and, on an otherwise idle connection, an extra epoll_wait).
      std::size_t sent = http::send_now(socket, asio::buffer(head), ec);
      if (!ec && sent < head.size()) co_await write_rest(socket, deadline, head, sent, cfg.body_timeout_ms, ec);
    } else {
      co_await write_large(socket, deadline, head, body, cfg.body_timeout_ms, ec);
    }
    if (ec || !keep) break;
  }
  if (refused) {
    co_await refuse(socket, deadline, *refused);  // answers, then closes
    co_return;
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace osprey::server
