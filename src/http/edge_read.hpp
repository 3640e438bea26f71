#pragma once
// EdgeReader(socket).async_read_some(buffer, token): socket.async_read_some,
// except that a read which leaves the socket empty says so to Asio's
// reactor, so that the next read on that socket waits for epoll instead of
// first trying a recv that can only fail with EAGAIN.
//
// Why: Asio 1.74 starts every read with a "speculative" recv, and marks a
// socket as drained only at end of stream. On a keep-alive connection the
// client's next request is almost never there yet when the response has
// just been sent, so every request paid one recv that found nothing: at 64
// connections that was a third of the server's socket calls on the health
// path, and the CPU per request nginx (which tracks readiness) does not pay.
//
// How: the operation is Asio's own receive, with one difference in its
// perform step: a recv that returns fewer bytes than asked for (the socket
// is empty now) reports "done and exhausted", which the reactor records,
// under its descriptor lock, as "do not speculate". The next epoll edge on
// the socket (new data, hang-up) sets it back. Because the flag changes
// only inside the reactor and the edge-triggered epoll reports every later
// arrival, no data can be left unread: at worst a read waits for the event
// that data arriving always produces.
//
// The one thing it cannot see: a close (FIN) that arrived glued to the last
// bytes a read drained. That close brought its edge before the read, so a
// read waiting after it gets no new one, and learns of the close only from
// its deadline (every session read has one), where async_read_some would
// have seen end of stream at once. Nothing is lost: any byte that arrives
// later makes an edge. Whoever must notice a close promptly (the close
// watcher of a long request) waits with async_wait, which asks epoll
// afresh. nginx without EPOLLRDHUP behaves the same way; Asio hides the
// event mask that would tell.
//
// Only for Linux's epoll reactor (the one Asio 1.74 uses there); it reaches
// into asio::detail, so it is pinned to that version and kept to this file.
// Cancellation and close behave exactly as for async_read_some.

#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION / 100 != 1074 || !defined(BOOST_ASIO_HAS_EPOLL)
#error "http/edge_read.hpp is written against Asio 1.74's epoll reactor; check it against this version"
#endif

namespace osprey::http {

namespace edge_read_detail {

namespace asio = boost::asio;
namespace adetail = boost::asio::detail;
using Socket = asio::ip::tcp::socket;

// The socket's reactor state lives in a protected member of basic_socket; a
// pointer to member formed in a derived class is the sanctioned way to reach
// it without changing the object's type.
struct Access : Socket {
  static auto& impl(Socket& s) {
    constexpr auto member = &Access::impl_;
    return (s.*member).get_implementation();
  }
};

template <class Handler, class IoExecutor>
class Op : public adetail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(Op);

  Op(adetail::socket_type socket, asio::mutable_buffer buffer, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(boost::system::error_code(), &Op::do_perform, &Op::do_complete),
        socket_(socket),
        buffer_(buffer),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<Op*>(base);
    if (!adetail::socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(), 0, true, o->ec_,
                                                  o->bytes_transferred_))
      return not_done;  // EAGAIN: wait for the socket's next edge
    // End of stream (0 bytes) and a short read both leave nothing to read.
    if (o->ec_ || o->bytes_transferred_ < o->buffer_.size()) return done_and_exhausted;
    return done;
  }

  static void do_complete(void* owner, adetail::operation* base, const boost::system::error_code&, std::size_t) {
    // As Asio's own reactive_socket_recv_op: free the operation before the
    // upcall, keeping the handler (which may own that memory) alive.
    auto* o = static_cast<Op*>(base);
    ptr p = {adetail::addressof(o->handler_), o, o};
    adetail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    adetail::binder2<Handler, boost::system::error_code, std::size_t> handler(o->handler_, o->ec_,
                                                                              o->bytes_transferred_);
    p.h = adetail::addressof(handler.handler_);
    p.reset();
    if (owner) {
      adetail::fenced_block b(adetail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  adetail::socket_type socket_;
  asio::mutable_buffer buffer_;
  Handler handler_;
  adetail::handler_work<Handler, IoExecutor> work_;
};

struct Initiate {
  template <class Handler>
  void operator()(Handler&& handler, Socket* socket, adetail::reactor* reactor, asio::mutable_buffer buffer) const {
    using H = std::decay_t<Handler>;
    using Executor = Socket::executor_type;
    H h(std::forward<Handler>(handler));
    auto& impl = Access::impl(*socket);
    bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(h);
    if (buffer.size() == 0 || !(impl.state_ & adetail::socket_ops::non_blocking)) {
      // Not the case this is for (an empty read, a blocking socket): do what
      // async_read_some does.
      socket->async_read_some(buffer, std::move(h));
      return;
    }
    using O = Op<H, Executor>;
    typename O::ptr p = {adetail::addressof(h), O::ptr::allocate(h), nullptr};
    p.p = new (p.v) O(impl.socket_, buffer, h, socket->get_executor());
    reactor->start_op(adetail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, is_continuation, true);
    p.v = p.p = nullptr;
  }
};

}  // namespace edge_read_detail

// One per connection: it looks up the socket's reactor once (use_service
// locks the context's service registry), then every read goes straight to
// it. The socket must be in non-blocking mode (socket.non_blocking(true));
// otherwise a read is plain async_read_some. Not thread-safe, like the
// socket itself.
class EdgeReader {
 public:
  explicit EdgeReader(boost::asio::ip::tcp::socket& socket)
      : socket_(&socket),
        reactor_(&boost::asio::use_service<boost::asio::detail::reactor>(
            boost::asio::query(socket.get_executor(), boost::asio::execution::context))) {}

  template <class CompletionToken>
  auto async_read_some(boost::asio::mutable_buffer buffer, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, std::size_t)>(
        edge_read_detail::Initiate{}, token, socket_, reactor_, buffer);
  }

 private:
  boost::asio::ip::tcp::socket* socket_;
  boost::asio::detail::reactor* reactor_;
};

}  // namespace osprey::http
