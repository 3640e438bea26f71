// stream_load: many long-lived SSE streams, for the gateway's memory check.
//
//   stream_load upstream PORT
//       a slow OpenAI-style SSE upstream on 127.0.0.1:PORT: every POST gets
//       a 200 text/event-stream, one chunk at once, then one every 5 s, forever
//   stream_load client PORT N HOLD_S [TARGET]
//       opens N connections to 127.0.0.1:PORT, POSTs a streaming chat request
//       on each, waits until every stream delivered its first event, holds
//       them HOLD_S seconds, prints "open=<n> failed=<n>", then exits
//
// One thread, Asio coroutines; raise `ulimit -n` first.

#include <utility>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::use_awaitable;

namespace {

const std::string kEvent =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"}}]}\n\n";

std::string chunk(const std::string& s) {
  char len[16];
  std::snprintf(len, sizeof len, "%zx\r\n", s.size());
  return len + s + "\r\n";
}

asio::awaitable<void> upstream_session(tcp::socket s) {
  boost::system::error_code ec;
  asio::streambuf buf;
  // Read the request head and body (Content-Length) and answer.
  std::size_t n = co_await asio::async_read_until(s, buf, "\r\n\r\n", asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
  buf.consume(n);
  std::size_t cl = 0;
  for (auto p = head.find("ontent-Length:"); p != std::string::npos; p = std::string::npos) cl = std::strtoul(head.c_str() + p + 14, nullptr, 10);
  for (auto p = head.find("ontent-length:"); p != std::string::npos; p = std::string::npos) cl = std::strtoul(head.c_str() + p + 14, nullptr, 10);
  if (buf.size() < cl) co_await asio::async_read(s, buf, asio::transfer_exactly(cl - buf.size()), asio::redirect_error(use_awaitable, ec));
  std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(kEvent);
  co_await asio::async_write(s, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
  asio::steady_timer t(s.get_executor());
  while (!ec) {
    t.expires_after(std::chrono::seconds(5));
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    std::string c = chunk(kEvent);
    co_await asio::async_write(s, asio::buffer(c), asio::redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<void> upstream(tcp::acceptor& acc) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acc.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      std::cerr << "accept: " << ec.message() << "\n";
      asio::steady_timer t(acc.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    asio::co_spawn(acc.get_executor(), upstream_session(std::move(s)), asio::detached);
  }
}

std::atomic<int> g_open{0}, g_failed{0};

asio::awaitable<void> client_stream(int port, std::string target, std::chrono::steady_clock::time_point until) {
  boost::system::error_code ec;
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    g_failed++;
    co_return;
  }
  const std::string body = R"({"model":"gpt-bench","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await asio::async_write(s, asio::buffer(req), asio::redirect_error(use_awaitable, ec));
  asio::streambuf buf;
  if (!ec) co_await asio::async_read_until(s, buf, "data: ", asio::redirect_error(use_awaitable, ec));
  if (ec) {
    g_failed++;
    co_return;
  }
  g_open++;
  // Hold: keep reading (discarding) until the deadline.
  asio::steady_timer t(s.get_executor(), until);
  t.async_wait([&s](boost::system::error_code) {
    boost::system::error_code e;
    s.close(e);
  });
  char sink[1024];
  while (!ec) co_await s.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
  t.cancel();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: stream_load upstream PORT | stream_load client PORT N HOLD_S [TARGET]\n";
    return 2;
  }
  std::string mode = argv[1];
  int port = std::atoi(argv[2]);
  asio::io_context io;
  if (mode == "upstream") {
    tcp::acceptor acc(io);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acc.open(ep.protocol());
    acc.set_option(tcp::acceptor::reuse_address(true));
    acc.bind(ep);
    acc.listen(4096);
    asio::co_spawn(io, upstream(acc), asio::detached);
    io.run();
    return 0;
  }
  if (mode == "client" && argc >= 5) {
    int n = std::atoi(argv[3]);
    int hold = std::atoi(argv[4]);
    std::string target = argc > 5 ? argv[5] : "/v1/chat/completions";
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(hold);
    // Open gradually (batches of 500) so the listen backlog never overflows.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, client_stream(port, target, until), asio::detached);
        if (i % 500 == 499) {
          asio::steady_timer t(io, std::chrono::milliseconds(50));
          co_await t.async_wait(use_awaitable);
        }
      }
    }, asio::detached);
    // Report progress once all have settled.
    std::thread([&] {
      while (g_open + g_failed < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::cout << "all_settled open=" << g_open << " failed=" << g_failed << std::endl;
    }).detach();
    io.run();
    std::cout << "open=" << g_open << " failed=" << g_failed << std::endl;
    return g_failed == 0 ? 0 : 1;
  }
  std::cerr << "bad arguments\n";
  return 2;
}
