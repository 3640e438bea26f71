#pragma once
// Test doubles for the gateway tests:
//
//   TestPki pki(dir);                 // CA + server cert made with OpenSSL at run time
//   FakeUpstream up(&pki);            // TLS server on 127.0.0.1, own thread
//   up.on([](const RecordedRequest& r) { return FakeUpstream::json(200, "{...}"); });
//   cfg.base_url = up.base_url();  cfg.ca_file = pki.ca_file;
//   ... up.requests()  // what the gateway sent
//
// A handler returns a Script: the exact bytes to send and when, so tests
// can split SSE anywhere, stall, reset the connection, or wait for a Gate
// that the test opens once the client saw the first chunk.
//
//   FakeSink sink;  ctx.stream = &sink;   // records what the client receives

#include <utility>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/context.hpp"

namespace osprey::gwtest {

struct TestPki {
  // Writes ca.pem into `dir`. The server certificate names `san`
  // (OpenSSL subjectAltName syntax).
  explicit TestPki(const std::string& dir, const std::string& san = "IP:127.0.0.1,DNS:localhost");
  std::string ca_file;
  std::string cert_pem;
  std::string key_pem;
};

struct RecordedRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Action {
  enum Kind { send, delay, gate, reset, close, drip };
  Action(Kind k, std::string b = {}, int m = 0, std::shared_ptr<std::atomic<bool>> f = {}, int n = 0)
      : kind(k), bytes(std::move(b)), ms(m), flag(std::move(f)), count(n) {}
  Kind kind = send;
  std::string bytes;
  int ms = 0;
  std::shared_ptr<std::atomic<bool>> flag;
  int count = 0;
};
using Script = std::vector<Action>;

class FakeUpstream {
 public:
  explicit FakeUpstream(const TestPki* pki);  // nullptr: plain HTTP
  ~FakeUpstream();

  int port() const { return port_; }
  std::string base_url() const;  // scheme://127.0.0.1:port/v1
  void on(std::function<Script(const RecordedRequest&)> handler);
  std::vector<RecordedRequest> requests() const;
  int connections() const { return connections_.load(); }

  std::atomic<bool> saw_client_close{false};  // a write failed: the gateway closed the socket
  std::atomic<bool> gate_timed_out{false};

  // Script helpers.
  static Script json(int status, const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers = {});
  static std::string sse_head();
  static std::string chunk(std::string_view data);  // one HTTP chunk
  static std::string last_chunk() { return "0\r\n\r\n"; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<int> connections_{0};
};

// StreamSink that records what a client would receive.
class FakeSink : public http::StreamSink {
 public:
  http::Awaitable<void> begin(http::Response head) override;
  http::Awaitable<void> write(std::string_view chunk) override;
  http::Awaitable<void> end(std::string_view last_chunk) override;
  http::Awaitable<void> flush() override;
  bool started() const override { return started_; }

  // Whether the head went out (a real sink sends it with the first chunk,
  // the end, or flush()), and how many flush() calls sent it on its own.
  bool head_sent = false;
  int head_flushes = 0;
  std::function<void()> on_flush;             // called when flush() sends the head
  int fail_after_writes = -1;                 // throw broken_pipe on this write (0-based)
  std::function<void(std::string_view)> on_write;  // called for each chunk
  http::Response head;
  std::vector<std::string> chunks;  // end()'s last chunk too
  bool ended = false;
  std::string all() const;

 private:
  bool started_ = false;
};

// Runs an awaitable to completion on a fresh io_context in this thread.
template <class T>
T run_sync(std::function<http::Awaitable<T>()> fn);

}  // namespace osprey::gwtest

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

namespace osprey::gwtest {
template <class T>
T run_sync(std::function<http::Awaitable<T>()> fn) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, fn(), boost::asio::use_future);
  io.run();
  return fut.get();
}
}  // namespace osprey::gwtest
