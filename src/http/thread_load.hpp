#pragma once
// thread_load: how many requests the calling I/O thread has in flight (read,
// not yet answered), kept by the server's sessions (server/session.cpp).
//
//   // about to read a socket whose answer is not there yet
//   if (http::others_in_flight(1)) co_await asio::post(ex, asio::use_awaitable);
//   co_await socket.async_read_some(...);
//
// Why: Asio tries every read at once before it waits for the socket, and on a
// socket we have just written to (a request sent upstream, a response sent
// to a keep-alive client) that try finds nothing: one wasted system call per
// read. When other requests are in flight on this thread its event loop has
// work queued; letting that run first (one post, a fraction of a system
// call) usually means the answer has arrived when the read is tried. With
// nothing else in flight (one client at a time) the post would only add
// latency, so it is skipped.
//
// The session's wait for a client's next request reads the socket itself
// after the post, without blocking, and only if that finds nothing goes to
// async_read_some (whose own try then finds nothing once more: the price of
// staying on Asio's public API, which has no "wait for the next edge" that
// cannot miss one that came before the wait).

#include <cstddef>

namespace osprey::http {

inline thread_local std::size_t thread_requests_in_flight = 0;

// True when more than `mine` requests (the caller's own) are in flight on
// this thread.
inline bool others_in_flight(std::size_t mine) { return thread_requests_in_flight > mine; }

// Counts one request for as long as it lives.
struct InFlightOnThisThread {
  InFlightOnThisThread() { ++thread_requests_in_flight; }
  ~InFlightOnThisThread() { --thread_requests_in_flight; }
  InFlightOnThisThread(const InFlightOnThisThread&) = delete;
  InFlightOnThisThread& operator=(const InFlightOnThisThread&) = delete;
};

}  // namespace osprey::http
