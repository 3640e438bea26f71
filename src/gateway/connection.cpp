#include "gateway/connection.hpp"

#include <sys/socket.h>

#include <openssl/ssl.h>

namespace osprey::gateway {

Connection::Connection(boost::asio::any_io_executor ex, boost::asio::ssl::context* tls_ctx) : executor(ex) {
  if (tls_ctx) {
    tls.emplace(ex, *tls_ctx);
  } else {
    plain.emplace(ex);
  }
}

void Connection::close() {
  boost::system::error_code ec;
  auto& sock = tcp().socket();
  if (sock.is_open()) {
    sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }
}

bool Connection::more_arrived() {
  if (buffer.size() > 0) return true;
  if (tls && SSL_pending(tls->native_handle()) > 0) return true;
  boost::system::error_code ec;
  return tcp().socket().available(ec) > 0 && !ec;
}

bool Connection::take_arrived(std::size_t room) {
  if (buffer.size() > 0) return true;
  if (tls) {
    if (!more_arrived()) return false;
    buffer.reserve(room);
    return true;
  }
  const std::size_t had_capacity = buffer.capacity();
  // MSG_DONTWAIT: whatever the socket's mode, nothing there is EAGAIN.
  auto into = buffer.prepare(room);
  const ssize_t n = ::recv(plain->socket().native_handle(), into.data(), into.size(), MSG_DONTWAIT);
  if (n > 0) {
    buffer.commit(static_cast<std::size_t>(n));
    return true;
  }
  if (buffer.capacity() > had_capacity) buffer.shrink_to_fit();
  return false;
}

std::shared_ptr<Connection> ConnectionPool::take(const boost::asio::any_io_executor& ex) {
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<Connection> found;
  std::vector<std::shared_ptr<Connection>> stale;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    // Newest first: the most recently used connection is the least likely
    // to have been closed by the upstream.
    for (auto it = idle_.end(); it != idle_.begin();) {
      --it;
      if ((*it)->executor != ex) continue;
      if (now - (*it)->idle_since > max_idle_age_) {
        stale.push_back(std::move(*it));
        it = idle_.erase(it);
        continue;
      }
      found = std::move(*it);
      idle_.erase(it);
      break;
    }
  }
  for (auto& s : stale) s->close();
  return found;
}

void ConnectionPool::give_back(std::shared_ptr<Connection> c) {
  if (max_idle_ == 0) return;
  c->idle_since = std::chrono::steady_clock::now();
  std::shared_ptr<Connection> evicted;
  {
    std::lock_guard lock(mu_);
    if (idle_.size() >= max_idle_) {
      // Evict the oldest of the caller's own thread, so that closing it is
      // safe; if there is none, keep what we have and drop this one.
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if ((*it)->executor == c->executor) {
          evicted = std::move(*it);
          idle_.erase(it);
          break;
        }
      }
      if (!evicted) {
        evicted = std::move(c);
      }
    }
    if (c) idle_.push_back(std::move(c));
  }
  if (evicted) evicted->close();
}

void ConnectionPool::clear() {
  std::deque<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(idle_);
  }
  for (auto& c : all) c->close();
}

std::size_t ConnectionPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace osprey::gateway
