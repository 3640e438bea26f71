// Route-level tests of the gateway: requests go through http::Router
// to a fake OpenAI upstream over TLS (CA generated at run time).

#include <boost/asio/steady_timer.hpp>

#include "gateway_fixture.hpp"

namespace osprey::gwtest {
namespace {

using nlohmann::json;
using http::Verb;

TEST_F(GatewayTest, JsonChatIsForwardedWithTheServerKeyOnly) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  gateway::Gateway gw(cfg);
  // Odd spacing: the body must reach the upstream byte for byte.
  const std::string body = R"({ "model" : "gpt-test", "messages":[{"role":"user","content":"Say hello"}], "temperature": 0.5 })";
  auto r = chat(gw, body);
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.res.body(), kCompletion);
  auto reqs = up->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].body, body);
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + kServerKey);
  for (const auto& [k, v] : reqs[0].headers) EXPECT_EQ(v.find(kClientKey), std::string::npos) << k;
  EXPECT_EQ(r.usage.model, "gpt-test");
  EXPECT_EQ(r.usage.prompt_tokens, 9);
  EXPECT_EQ(r.usage.completion_tokens, 3);
  EXPECT_TRUE(r.usage.upstream_called);
}

TEST_F(GatewayTest, MissingModelIs400AndNeverReachesUpstream) {
  gateway::Gateway gw(cfg);
  auto r = chat(gw, R"({"messages":[]})");
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.json["error"]["param"], "model");
  EXPECT_EQ(r.json["error"]["type"], "invalid_request_error");
  auto bad = chat(gw, "not json");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_TRUE(up->requests().empty());
}

TEST_F(GatewayTest, RequestValidationIsTheSameWithAndWithoutStreaming) {
  // The non-streaming path checks the body with a SAX scan, the streaming
  // one with a DOM: both must refuse the same bodies the same way.
  gateway::Gateway gw(cfg);
  struct Case {
    const char* body;
    const char* param;  // "" : no param
    const char* code;
  };
  for (const char* stream : {"", R"("stream":true,)"}) {
    for (const Case& c : {Case{R"({%s"messages":[]})", "model", "missing_required_parameter"},
                          Case{R"({%s"model":null})", "model", "missing_required_parameter"},
                          Case{R"({%s"model":""})", "model", ""},
                          Case{R"({%s"model":42})", "model", ""},
                          Case{R"({%s"model":{"a":1}})", "model", ""},
                          Case{R"({"model":"m","stream":"yes"})", "stream", ""},
                          Case{R"([%s1,2])", "", ""},
                          Case{R"({%s"model":"m",)", "", "invalid_json"}}) {
      char body[256];
      std::snprintf(body, sizeof body, c.body, stream);
      auto r = chat(gw, body);
      EXPECT_EQ(r.status(), 400) << body;
      if (*c.param) EXPECT_EQ(r.json["error"]["param"], c.param) << body;
      if (*c.code) EXPECT_EQ(r.json["error"]["code"], c.code) << body;
    }
  }
  // Nested "model"/"stream" keys are not the request's: this one is valid
  // (and not streaming), so it reaches the upstream.
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  auto ok = chat(gw, R"({"metadata":{"model":1,"stream":"x"},"model":"m","messages":[]})");
  EXPECT_EQ(ok.status(), 200) << ok.json.dump();
  EXPECT_EQ(up->requests().size(), 1u);
}

TEST_F(GatewayTest, NoKeyConfiguredIs503WithInstructions) {
  cfg.api_keys.clear();
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 503);
  EXPECT_EQ(r.json["error"]["code"], "upstream_not_configured");
  EXPECT_NE(r.json["error"]["message"].get<std::string>().find("OPENAI_API_KEY"), std::string::npos);
  EXPECT_TRUE(up->requests().empty());
}

TEST_F(GatewayTest, ToolCallsPassThroughUnchanged) {
  const std::string completion =
      R"({"id":"x","object":"chat.completion","model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30}})";
  const std::string d1 =
      R"({"id":"x","object":"chat.completion.chunk","model":"gpt-test","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})";
  const std::string d2 =
      R"({"id":"x","object":"chat.completion.chunk","model":"gpt-test","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":null}]})";
  up->on([&](const RecordedRequest& r) {
    if (r.body.find("\"stream\":true") != std::string::npos)
      return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(d1) + sse(d2) + sse("[DONE]")) + FakeUpstream::last_chunk()}};
    return FakeUpstream::json(200, completion);
  });
  gateway::Gateway gw(cfg);
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  auto r = chat(gw, R"({"model":"gpt-test","messages":[{"role":"user","content":"weather?"}],)" + tools + "}");
  EXPECT_EQ(r.res.body(), completion);
  EXPECT_NE(up->requests().at(0).body.find(tools), std::string::npos);
  FakeSink sink;
  chat(gw, R"({"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"weather?"}],)" + tools + "}", &sink);
  // Both deltas arrived in one upstream read: relayed unchanged, in one write.
  EXPECT_EQ(sink.all(), sse(d1) + sse(d2) + "data: [DONE]\n\n");
}

TEST_F(GatewayTest, RateLimitIsRetriedHonouringRetryAfterMs) {
  std::atomic<int> n{0};
  up->on([&](const RecordedRequest&) {
    if (n++ == 0)
      return FakeUpstream::json(429, R"({"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}})",
                                {{"retry-after-ms", "300"}, {"Retry-After", "1"}});
    return FakeUpstream::json(200, kCompletion);
  });
  gateway::Gateway gw(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = chat(gw, kChatBody);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(up->requests().size(), 2u);
  // A lower bound only: the retry must not come before the upstream said.
  EXPECT_GE(waited, std::chrono::milliseconds(300));
}

TEST_F(GatewayTest, RetryAfterBeyondTheBudgetAnswers429AtOnce) {
  up->on([](const RecordedRequest&) {
    return FakeUpstream::json(429, R"({"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}})",
                              {{"Retry-After", "3600"}});
  });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 429);
  EXPECT_EQ(r.json["error"]["type"], "insufficient_quota");
  EXPECT_EQ(r.json["error"]["code"], "insufficient_quota");
  EXPECT_EQ(r.res["Retry-After"], "3600");
  EXPECT_EQ(up->requests().size(), 1u);
}

TEST_F(GatewayTest, ServerErrorsAreRetriedThenMappedFaithfully) {
  std::atomic<int> n{0};
  up->on([&](const RecordedRequest&) {
    if (n++ == 0) return FakeUpstream::json(500, R"({"error":{"message":"boom","type":"server_error"}})");
    return FakeUpstream::json(200, kCompletion);
  });
  gateway::Gateway gw(cfg);
  EXPECT_EQ(chat(gw, kChatBody).status(), 200);
  EXPECT_EQ(up->requests().size(), 2u);

  up->on([](const RecordedRequest&) {
    return FakeUpstream::json(503, R"({"error":{"message":"The engine is currently overloaded","type":"server_error","code":"overloaded"}})");
  });
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 503);
  EXPECT_EQ(r.json["error"]["message"], "The engine is currently overloaded");
  EXPECT_EQ(r.json["error"]["type"], "server_error");
  EXPECT_EQ(r.json["error"]["code"], "overloaded");
  EXPECT_EQ(up->requests().size(), 2u + 3u);  // max_attempts
}

TEST_F(GatewayTest, ClientErrorsAreNotRetried) {
  up->on([](const RecordedRequest&) {
    return FakeUpstream::json(400, R"({"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":"invalid_value"}})");
  });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.json["error"]["param"], "temperature");
  EXPECT_EQ(r.json["error"]["code"], "invalid_value");
  EXPECT_EQ(up->requests().size(), 1u);
}

TEST_F(GatewayTest, SlowFirstByteIs504) {
  cfg.first_byte_timeout_ms = 200;
  cfg.max_attempts = 2;
  up->on([](const RecordedRequest&) {
    Script s{{Action::delay, {}, 2000}};
    auto j = FakeUpstream::json(200, kCompletion);
    s.insert(s.end(), j.begin(), j.end());
    return s;
  });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 504);
  EXPECT_EQ(r.json["error"]["type"], "api_error");
  EXPECT_EQ(r.json["error"]["code"], "upstream_timeout");
  EXPECT_EQ(up->requests().size(), 2u);  // timeouts are retried
}

TEST_F(GatewayTest, ResetMidStreamIsNotRetriedAndEndsWithAnErrorEvent) {
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("12345678")))},
                  {Action::delay, {}, 50},
                  {Action::reset}};
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  auto r = chat(gw, kStreamBody, &sink);
  EXPECT_EQ(up->requests().size(), 1u);
  ASSERT_EQ(sink.chunks.size(), 2u) << sink.all();
  EXPECT_EQ(sink.chunks[0], sse(content_chunk("12345678")));
  ASSERT_EQ(sink.chunks[1].rfind("data: ", 0), 0u);
  auto ev = json::parse(sink.chunks[1].substr(6));
  EXPECT_EQ(ev["error"]["type"], "api_error");
  EXPECT_EQ(sink.all().find("[DONE]"), std::string::npos);
  EXPECT_TRUE(sink.ended);
  // No usage chunk arrived: estimated from what was sent (8 chars -> 2 tokens).
  EXPECT_EQ(r.usage.completion_tokens, 2);
  EXPECT_GT(r.usage.prompt_tokens, 0);
  EXPECT_TRUE(r.usage.upstream_called);
}

TEST_F(GatewayTest, MalformedUpstreamJsonIs502) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, R"({"id":"x","choices":[)"); });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 502);
  EXPECT_EQ(r.json["error"]["code"], "upstream_invalid_response");
  // An error status with a non-JSON body keeps its status.
  up->on([](const RecordedRequest&) { return FakeUpstream::json(404, "<html>nope</html>"); });
  auto r2 = chat(gw, kChatBody);
  EXPECT_EQ(r2.status(), 404);
  EXPECT_EQ(r2.json["error"]["type"], "not_found_error");
  EXPECT_EQ(r2.res.body().find("<html>"), std::string::npos);
}

TEST_F(GatewayTest, HugeResponseIsRefused) {
  cfg.max_response_bytes = 1000;
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, R"({"x":")" + std::string(5000, 'a') + "\"}"); });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 502);
  EXPECT_EQ(r.json["error"]["code"], "upstream_response_too_large");
  // Same for a stream that never ends.
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head()}, {Action::drip, FakeUpstream::chunk(sse(content_chunk(std::string(100, 'z')))), 1, nullptr, 100}};
  });
  FakeSink sink;
  chat(gw, kStreamBody, &sink);
  ASSERT_FALSE(sink.chunks.empty());
  EXPECT_NE(sink.chunks.back().find("upstream_stream_interrupted"), std::string::npos) << sink.chunks.back();
  EXPECT_LT(sink.chunks.size(), 12u);
}

TEST_F(GatewayTest, ClientDisconnectClosesTheUpstreamStream) {
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head()}, {Action::drip, FakeUpstream::chunk(sse(content_chunk("tok"))), 20, nullptr, 500}};
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  sink.fail_after_writes = 3;  // the 4th write finds the client gone
  auto r = chat(gw, kStreamBody, &sink);
  EXPECT_EQ(sink.chunks.size(), 3u);
  // The gateway closed the upstream socket: the upstream's next write fails
  // (it would otherwise keep dripping for 10 s).
  for (int i = 0; i < 500 && !up->saw_client_close; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(up->saw_client_close);
  EXPECT_EQ(up->requests().size(), 1u);
  EXPECT_EQ(r.usage.completion_tokens, 3);  // 3 x "tok" = 9 chars -> 3 tokens (estimate)
}

TEST_F(GatewayTest, CancellationWhileWaitingClosesTheUpstream) {
  up->on([](const RecordedRequest&) {
    Script s{{Action::delay, {}, 3000}};
    auto j = FakeUpstream::json(200, kCompletion);
    s.insert(s.end(), j.begin(), j.end());
    return s;
  });
  gateway::Gateway gw(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = call(gw, Verb::post, "/v1/chat/completions", kChatBody, nullptr, [&](http::Context& ctx) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(100));
    timer->async_wait([timer, c = ctx.cancellation](boost::system::error_code) { c->cancel(); });
  });
  EXPECT_EQ(r.status(), 499);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2900));  // did not wait for the upstream
  EXPECT_EQ(up->requests().size(), 1u);
}

TEST_F(GatewayTest, UnreachableUpstreamIs502) {
  cfg.base_url = "https://127.0.0.1:1/v1";
  cfg.max_attempts = 2;
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 502);
  EXPECT_EQ(r.json["error"]["type"], "api_error");
  EXPECT_EQ(r.json["error"]["code"], "upstream_unreachable");
}

TEST_F(GatewayTest, UntrustedOrMisnamedCertificateIsRefused) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  cfg.max_attempts = 1;
  {
    auto c = cfg;
    c.ca_file.clear();  // system CAs only: our test CA is unknown
    gateway::Gateway gw(c);
    auto r = chat(gw, kChatBody);
    EXPECT_EQ(r.status(), 502);
    EXPECT_EQ(r.json["error"]["code"], "upstream_unreachable");
  }
  {
    TestPki other(dir, "DNS:api.example.com");  // trusted CA, wrong name
    FakeUpstream up2(&other);
    up2.on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
    auto c = cfg;
    c.base_url = up2.base_url();
    c.ca_file = other.ca_file;
    gateway::Gateway gw(c);
    auto r = chat(gw, kChatBody);
    EXPECT_EQ(r.status(), 502);
    EXPECT_TRUE(up2.requests().empty());
  }
}

TEST_F(GatewayTest, UpstreamEchoOfTheKeyIsRedacted) {
  up->on([](const RecordedRequest& r) {
    std::string key = r.header("authorization").substr(7);
    return FakeUpstream::json(401, R"({"error":{"message":"Incorrect API key provided: )" + key +
                                       R"(.","type":"invalid_request_error","code":"invalid_api_key"}})");
  });
  gateway::Gateway gw(cfg);
  auto r = chat(gw, kChatBody);
  EXPECT_EQ(r.status(), 401);
  EXPECT_EQ(r.json["error"]["code"], "invalid_api_key");
  EXPECT_EQ(r.res.body().find(kServerKey), std::string::npos) << r.res.body();
  EXPECT_NE(r.res.body().find("[REDACTED]"), std::string::npos);
}

TEST_F(GatewayTest, SecondKeyTakesOverAfter401And429) {
  cfg.api_keys = {"sk-first-key-aaaaaaaaaaaa", "sk-second-key-bbbbbbbbbbb"};
  up->on([](const RecordedRequest& r) {
    if (r.header("authorization") == "Bearer sk-first-key-aaaaaaaaaaaa")
      return FakeUpstream::json(401, R"({"error":{"message":"revoked","type":"invalid_request_error","code":"invalid_api_key"}})");
    return FakeUpstream::json(200, kCompletion);
  });
  gateway::Gateway gw(cfg);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(chat(gw, kChatBody).status(), 200);
  // The revoked key rests after its 401: at most one request used it.
  int first = 0;
  for (const auto& r : up->requests()) first += r.header("authorization") == "Bearer sk-first-key-aaaaaaaaaaaa";
  EXPECT_LE(first, 1);
}

TEST_F(GatewayTest, KeepAliveConnectionIsReused) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  gateway::Gateway gw(cfg);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(chat(gw, kChatBody).status(), 200);
  EXPECT_EQ(up->connections(), 1);
  EXPECT_EQ(gw.idle_connections(), 1u);
}

TEST_F(GatewayTest, StaleKeepAliveConnectionIsReplacedTransparently) {
  std::atomic<int> n{0};
  up->on([&](const RecordedRequest&) {
    auto s = FakeUpstream::json(200, kCompletion);
    if (n++ == 0) s.push_back({Action::close});  // keep-alive promised, then closed
    return s;
  });
  gateway::Gateway gw(cfg);
  EXPECT_EQ(chat(gw, kChatBody).status(), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(chat(gw, kChatBody).status(), 200);
  EXPECT_EQ(up->requests().size(), 2u);
}

TEST_F(GatewayTest, ModelsAreCached) {
  up->on([](const RecordedRequest& r) {
    EXPECT_EQ(r.target, "/v1/models");
    return FakeUpstream::json(200, R"({"object":"list","data":[{"id":"gpt-a","object":"model"},{"id":"gpt-b","object":"model"}]})");
  });
  gateway::Gateway gw(cfg);
  auto a = call(gw, Verb::get, "/v1/models", "");
  auto b = call(gw, Verb::get, "/v1/models", "");
  EXPECT_EQ(a.status(), 200);
  EXPECT_EQ(b.json["data"].size(), 2u);
  EXPECT_EQ(up->requests().size(), 1u);
  auto c = call(gw, Verb::get, "/v1/models", "", nullptr, [](http::Context& ctx) {
    ctx.principal.emplace();
    ctx.principal->key_id = "k";
    ctx.principal->allowed_models = {"gpt-b"};
  });
  ASSERT_EQ(c.json["data"].size(), 1u);
  EXPECT_EQ(c.json["data"][0]["id"], "gpt-b");
}

TEST_F(GatewayTest, EmbeddingsRecordUsage) {
  up->on([](const RecordedRequest& r) {
    EXPECT_EQ(r.target, "/v1/embeddings");
    return FakeUpstream::json(200, R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"emb","usage":{"prompt_tokens":7,"total_tokens":7}})");
  });
  gateway::Gateway gw(cfg);
  auto r = call(gw, Verb::post, "/v1/embeddings", R"({"model":"emb","input":"hello"})");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.usage.prompt_tokens, 7);
  EXPECT_EQ(r.usage.model, "emb");
  EXPECT_EQ(call(gw, Verb::post, "/v1/embeddings", R"({"model":"emb"})").status(), 400);
}

TEST_F(GatewayTest, ModelNotAllowedForTheKeyIs403) {
  gateway::Gateway gw(cfg);
  auto r = call(gw, Verb::post, "/v1/chat/completions", kChatBody, nullptr, [](http::Context& ctx) {
    ctx.principal.emplace();
    ctx.principal->key_id = "k";
    ctx.principal->allowed_models = {"other"};
  });
  EXPECT_EQ(r.status(), 403);
  EXPECT_TRUE(up->requests().empty());
}

TEST_F(GatewayTest, PlainHttpUpstreamWorks) {
  FakeUpstream plain(nullptr);
  plain.on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  cfg.base_url = plain.base_url();
  gateway::Gateway gw(cfg);
  EXPECT_EQ(chat(gw, kChatBody).status(), 200);
}

}  // namespace
}  // namespace osprey::gwtest
