#pragma once
// Feed: one producer thread broadcasting to HTTP clients, each a coroutine
// on its own I/O thread, without either side ever blocking the other.
//
//   Feed feed(32);                                      // per-subscriber backlog
//   // producer (a stream's processing thread):
//   feed.publish(std::make_shared<const std::string>(json));
//   // consumer (a handler coroutine on an I/O thread):
//   auto sub = feed.subscribe(ctx.executor);
//   for (;;) {
//     auto n = co_await sub->next(std::chrono::seconds(15));
//     if (n.kind == Feed::Next::closed) break;
//     if (n.kind == Feed::Next::idle) { /* keep-alive */ continue; }
//     co_await write(*n.item);
//   }
//
// A subscriber that reads slower than the feed is fed keeps only the newest
// `capacity` items: older ones are dropped and counted (Next::dropped), so
// a slow client sees the present, late, rather than the past, ever later.
// Capacity 1 is "the latest picture" (MJPEG).
//
// Thread model: everything a subscriber owns (its queue, its timer) is
// touched only on its executor; publish() posts the item there. The I/O
// threads run io_contexts without locks (server/worker.hpp), so no other
// thread may touch their timers directly.

#include <utility>  // before Asio (g++ 12)

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/message.hpp"

namespace osprey::video {

class Feed {
 public:
  using Item = std::shared_ptr<const std::string>;

  struct Next {
    enum Kind { item, idle, closed } kind = closed;
    Item data;
    std::uint64_t dropped = 0;  // items this subscriber lost so far
  };

  class Subscriber : public std::enable_shared_from_this<Subscriber> {
   public:
    Subscriber(boost::asio::any_io_executor ex, std::size_t capacity);
    // The next item; `idle` after `keepalive` with none; `closed` once the
    // feed closed (after the items still queued) or stop() was called.
    http::Awaitable<Next> next(std::chrono::milliseconds keepalive);
    // Ends next() at once (client gone). Call on the subscriber's executor.
    void stop();

   private:
    friend class Feed;
    void deliver(Item item);  // on the executor
    void close();             // on the executor
    void wake();

    boost::asio::any_io_executor ex_;
    boost::asio::steady_timer timer_;
    std::size_t capacity_;
    std::deque<Item> queue_;
    std::uint64_t dropped_ = 0;
    bool waiting_ = false;
    bool closed_ = false;
  };

  explicit Feed(std::size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<Subscriber> subscribe(boost::asio::any_io_executor ex);
  // Any thread. Items published after close() are discarded.
  void publish(Item item);
  // No more items: subscribers drain what they hold, then see `closed`.
  void close();
  // Live subscribers (the producer skips work nobody would receive).
  std::size_t subscribers() const;

 private:
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<Subscriber>> subs_;
  bool closed_ = false;
};

}  // namespace osprey::video
