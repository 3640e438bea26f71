#include "video/feed.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace osprey::video {

namespace asio = boost::asio;

Feed::Subscriber::Subscriber(asio::any_io_executor ex, std::size_t capacity)
    : ex_(ex), timer_(ex), capacity_(capacity ? capacity : 1) {}

http::Awaitable<Feed::Next> Feed::Subscriber::next(std::chrono::milliseconds keepalive) {
  for (;;) {
    if (!queue_.empty()) {
      Next n{Next::item, std::move(queue_.front()), dropped_};
      queue_.pop_front();
      co_return n;
    }
    if (closed_) co_return Next{Next::closed, nullptr, dropped_};
    // deliver()/close() run on this executor, so nothing can arrive between
    // the checks above and the wait below; they cancel the wait.
    waiting_ = true;
    timer_.expires_after(keepalive);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    waiting_ = false;
    if (!ec && queue_.empty() && !closed_) co_return Next{Next::idle, nullptr, dropped_};
  }
}

void Feed::Subscriber::wake() {
  if (waiting_) timer_.cancel();
}

void Feed::Subscriber::stop() {
  closed_ = true;
  queue_.clear();
  wake();
}

void Feed::Subscriber::deliver(Item item) {
  if (closed_) return;
  queue_.push_back(std::move(item));
  while (queue_.size() > capacity_) {
    queue_.pop_front();
    ++dropped_;
  }
  wake();
}

void Feed::Subscriber::close() {
  closed_ = true;
  wake();
}

std::shared_ptr<Feed::Subscriber> Feed::subscribe(asio::any_io_executor ex) {
  auto s = std::make_shared<Subscriber>(ex, capacity_);
  std::lock_guard lock(mu_);
  if (closed_) s->closed_ = true;  // not yet shared with any other thread
  std::erase_if(subs_, [](const auto& w) { return w.expired(); });
  subs_.push_back(s);
  return s;
}

void Feed::publish(Item item) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  for (auto& w : subs_) {
    auto s = w.lock();
    if (!s) continue;
    // The reference moves into the posted handler: the last one is always
    // released on the subscriber's executor, which owns its timer.
    auto ex = s->ex_;
    asio::post(ex, [s = std::move(s), item]() mutable { s->deliver(std::move(item)); });
  }
}

void Feed::close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& w : subs_) {
    auto s = w.lock();
    if (!s) continue;
    auto ex = s->ex_;
    asio::post(ex, [s = std::move(s)] { s->close(); });
  }
  subs_.clear();
}

std::size_t Feed::subscribers() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& w : subs_)
    if (!w.expired()) ++n;
  return n;
}

}  // namespace osprey::video
