#pragma once
// Fixture for the route-level gateway tests: a TLS fake upstream with a
// generated CA, a GatewayConfig pointing at it, and call() that sends one
// request through http::Router::dispatch, as the server would.

#include <utility>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/chat_routes.hpp"
#include "fake_upstream.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace osprey::gwtest {

inline const std::string kServerKey = "sk-test-server-key-0123456789abcdef";
inline const std::string kClientKey = "osk-client-key-must-not-be-forwarded";
inline const std::string kChatBody = R"({"model":"gpt-test","messages":[{"role":"user","content":"Say hello"}]})";
inline const std::string kStreamBody =
    R"({"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"Say hello"}]})";

inline std::string temp_dir() {
  char tmpl[] = "/tmp/osprey-gw-XXXXXX";
  const char* d = mkdtemp(tmpl);
  if (!d) throw std::runtime_error("mkdtemp failed");
  return d;
}

inline std::string sse(const std::string& data) { return "data: " + data + "\n\n"; }

inline std::string content_chunk(const std::string& text) {
  return nlohmann::json({{"id", "c1"}, {"object", "chat.completion.chunk"}, {"model", "gpt-test"},
                         {"choices", {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}})
      .dump();
}
inline std::string usage_chunk(int p, int c) {
  return nlohmann::json({{"id", "c1"}, {"object", "chat.completion.chunk"}, {"model", "gpt-test"}, {"choices", nlohmann::json::array()},
                         {"usage", {{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c}}}})
      .dump();
}
inline const std::string kCompletion =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})";

struct CallResult {
  http::Response res;
  nlohmann::json json;  // null when the body is not JSON
  http::Usage usage;
  int status() const { return res.result_int(); }
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir();
    pki = std::make_unique<TestPki>(dir);
    up = std::make_unique<FakeUpstream>(pki.get());
    cfg.base_url = up->base_url();
    cfg.ca_file = pki->ca_file;
    cfg.api_keys = {kServerKey};
    cfg.retry_base_ms = 1;
    cfg.max_attempts = 3;
    cfg.connect_timeout_ms = 2000;
    cfg.first_byte_timeout_ms = 5000;
    cfg.idle_timeout_ms = 5000;
  }

  template <class T>
  T run(std::function<http::Awaitable<T>()> fn) {
    auto fut = boost::asio::co_spawn(io, fn(), boost::asio::use_future);
    io.restart();
    io.run();
    return fut.get();
  }

  CallResult call(gateway::Gateway& gw, http::Verb verb, const std::string& target, const std::string& body,
                  FakeSink* sink = nullptr, std::function<void(http::Context&)> prep = {}) {
    return call_with([&gw](http::Router& r) { api::add_chat_routes(r, gw); }, verb, target, body, sink, std::move(prep));
  }
  // The same through several upstreams.
  CallResult call(std::shared_ptr<gateway::Upstreams> ups, http::Verb verb, const std::string& target,
                  const std::string& body, FakeSink* sink = nullptr) {
    return call_with([&ups](http::Router& r) { api::add_chat_routes(r, ups); }, verb, target, body, sink);
  }

  CallResult call_with(const std::function<void(http::Router&)>& add_routes, http::Verb verb, const std::string& target,
                       const std::string& body, FakeSink* sink, std::function<void(http::Context&)> prep = {}) {
    http::Router router;
    add_routes(router);
    http::Request req{verb, target, 11};
    req.set(http::Field::authorization, "Bearer " + kClientKey);
    if (!body.empty()) req.set(http::Field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // Context is an aggregate with defaults
    http::Context ctx{.request = req, .path = target};
#pragma GCC diagnostic pop
    ctx.executor = io.get_executor();
    ctx.stream = sink;
    if (prep) prep(ctx);
    CallResult r;
    r.res = run<http::Response>([&]() -> http::Awaitable<http::Response> { co_return co_await router.dispatch(ctx); });
    r.json = nlohmann::json::parse(r.res.body(), nullptr, false);
    if (r.json.is_discarded()) r.json = nullptr;
    r.usage = ctx.usage;
    return r;
  }

  CallResult chat(gateway::Gateway& gw, const std::string& body, FakeSink* sink = nullptr) {
    return call(gw, http::Verb::post, "/v1/chat/completions", body, sink);
  }

  boost::asio::io_context io;  // before anything holding sockets
  std::string dir;
  std::unique_ptr<TestPki> pki;
  std::unique_ptr<FakeUpstream> up;
  config::GatewayConfig cfg;
};

}  // namespace osprey::gwtest
