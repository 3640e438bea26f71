#include "server/stream_sink.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include <stdexcept>

namespace osprey::server {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// A stalled reader must not hold a stream (and its upstream) forever.
constexpr auto kWriteTimeout = std::chrono::seconds(30);

http::Awaitable<void> StreamSinkImpl::begin(http::Response head) {
  if (started_) throw std::logic_error("StreamSink::begin called twice");
  started_ = true;
  head.version(version_);
  head.body().clear();
  head.chunked(true);
  if (extra_headers)
    for (const auto& [k, v] : *extra_headers)
      if (head.find(k) == head.end()) head.set(k, v);
  head.keep_alive(head.keep_alive() && !draining_.load());
  bhttp::response_serializer<bhttp::string_body> sr{head};
  stream_.expires_after(kWriteTimeout);
  try {
    co_await bhttp::async_write_header(stream_, sr, asio::use_awaitable);
  } catch (...) {
    healthy_ = false;
    throw;
  }
  stream_.expires_never();
}

http::Awaitable<void> StreamSinkImpl::write(std::string_view chunk) {
  if (!started_ || finished_) throw std::logic_error("StreamSink::write outside begin/end");
  if (chunk.empty()) co_return;  // an empty chunk would end the response
  stream_.expires_after(kWriteTimeout);
  try {
    co_await asio::async_write(stream_, bhttp::make_chunk(asio::const_buffer(chunk.data(), chunk.size())),
                               asio::use_awaitable);
  } catch (...) {
    healthy_ = false;
    throw;
  }
  stream_.expires_never();
}

http::Awaitable<void> StreamSinkImpl::end() {
  if (!started_ || finished_) co_return;
  finished_ = true;
  stream_.expires_after(kWriteTimeout);
  try {
    co_await asio::async_write(stream_, bhttp::make_chunk_last(), asio::use_awaitable);
  } catch (...) {
    healthy_ = false;
    throw;
  }
  stream_.expires_never();
}

}  // namespace osprey::server
