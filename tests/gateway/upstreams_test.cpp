// Several upstreams: routing by model, fallback and cooldown, the merged
// model list, keyless upstreams, keys re-read from their source, and the
// Responses API relayed (JSON and typed events), all through the real
// routes and TLS client against fake upstreams on 127.0.0.1.

#include <atomic>
#include <memory>

#include "gateway/upstreams.hpp"
#include "gateway_fixture.hpp"

namespace osprey::gwtest {
namespace {

using gateway::Gateway;
using gateway::Upstreams;

std::string completion_from(const std::string& who) {
  return nlohmann::json({{"id", "c-" + who},
                         {"object", "chat.completion"},
                         {"model", "m"},
                         {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "from " + who}}}}}},
                         {"usage", {{"prompt_tokens", 4}, {"completion_tokens", 2}}}})
      .dump();
}

class UpstreamsTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    up2 = std::make_unique<FakeUpstream>(pki.get());
  }
  config::GatewayConfig config_for(const std::string& name, const FakeUpstream& u, std::vector<std::string> keys) {
    config::GatewayConfig g = cfg;
    g.name = name;
    g.base_url = u.base_url();
    g.key_required = !keys.empty();  // as cli/upstream_setup.cpp: no key source, no key needed
    g.api_keys = std::move(keys);
    g.max_attempts = 2;
    return g;
  }
  std::unique_ptr<FakeUpstream> up2;
};

TEST(ModelMatches, Globs) {
  using gateway::model_matches;
  EXPECT_TRUE(model_matches("gpt-4o*", "gpt-4o-mini"));
  EXPECT_TRUE(model_matches("gpt-4o*", "gpt-4o"));
  EXPECT_FALSE(model_matches("gpt-4o*", "gpt-4"));
  EXPECT_TRUE(model_matches("*", "anything"));
  EXPECT_TRUE(model_matches("*vision*", "llama-3.2-vision-11b"));
  EXPECT_TRUE(model_matches("llama3", "llama3"));
  EXPECT_FALSE(model_matches("llama3", "llama3.1"));
  EXPECT_TRUE(model_matches("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(model_matches("a*b*c", "aXXbYY"));
}

TEST_F(UpstreamsTest, RoutesByModelAndRecordsTheUpstream) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, completion_from("openai")); });
  up2->on([](const RecordedRequest&) { return FakeUpstream::json(200, completion_from("local")); });
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(30000));
  ups->add(std::make_shared<Gateway>(config_for("openai", *up, {kServerKey})), {"gpt-*"}, 1);
  ups->add(std::make_shared<Gateway>(config_for("local", *up2, {})), {"llama*", "qwen*"}, 1);

  auto a = call(ups, http::Verb::post, "/v1/chat/completions", R"({"model":"gpt-test","messages":[]})");
  ASSERT_EQ(a.status(), 200) << a.res.body();
  EXPECT_EQ(a.json["choices"][0]["message"]["content"], "from openai");
  EXPECT_EQ(a.usage.upstream, "openai");
  EXPECT_EQ(a.res["X-Osprey-Upstream"], "openai");

  auto b = call(ups, http::Verb::post, "/v1/chat/completions", R"({"model":"llama3.1","messages":[]})");
  ASSERT_EQ(b.status(), 200) << b.res.body();
  EXPECT_EQ(b.json["choices"][0]["message"]["content"], "from local");
  EXPECT_EQ(b.usage.upstream, "local");
  // A keyless upstream (a local server) gets no Authorization header at all.
  ASSERT_EQ(up2->requests().size(), 1u);
  EXPECT_EQ(up2->requests()[0].header("authorization"), "");

  auto c = call(ups, http::Verb::post, "/v1/chat/completions", R"({"model":"claude-x","messages":[]})");
  EXPECT_EQ(c.status(), 404);
  EXPECT_EQ(c.json["error"]["code"], "model_not_found");
  EXPECT_EQ(up->requests().size() + up2->requests().size(), 2u);
}

TEST_F(UpstreamsTest, FailingUpstreamFallsBackAndCoolsDown) {
  std::atomic<int> first_calls{0};
  up->on([&](const RecordedRequest&) {
    ++first_calls;
    return FakeUpstream::json(503, R"({"error":{"message":"overloaded","type":"server_error"}})");
  });
  up2->on([](const RecordedRequest&) { return FakeUpstream::json(200, completion_from("backup")); });
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(60000));
  ups->add(std::make_shared<Gateway>(config_for("primary", *up, {kServerKey})), {}, 1, 0);
  ups->add(std::make_shared<Gateway>(config_for("backup", *up2, {"sk-backup-key-0123456789"})), {}, 1, 1);

  auto r = call(ups, http::Verb::post, "/v1/chat/completions", kChatBody);
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.usage.upstream, "backup");
  EXPECT_EQ(first_calls.load(), 2) << "the primary's own retries come first (max_attempts 2)";
  EXPECT_TRUE(ups->all()[0]->cooling());
  EXPECT_EQ(up2->requests()[0].header("authorization"), "Bearer sk-backup-key-0123456789");

  // Cooling down: the next request goes to the backup first, the primary untouched.
  auto again = call(ups, http::Verb::post, "/v1/chat/completions", kChatBody);
  ASSERT_EQ(again.status(), 200);
  EXPECT_EQ(again.usage.upstream, "backup");
  EXPECT_EQ(first_calls.load(), 2);

  // A stream falls back the same way: nothing had gone to the client.
  FakeSink sink;
  up2->on([](const RecordedRequest&) {
    Script s{{Action::send, FakeUpstream::sse_head()}};
    s.push_back({Action::send, FakeUpstream::chunk(sse(content_chunk("hi")) + sse(usage_chunk(3, 1)) + sse("[DONE]"))});
    s.push_back({Action::send, FakeUpstream::last_chunk()});
    return s;
  });
  auto st = call(ups, http::Verb::post, "/v1/chat/completions", kStreamBody, &sink);
  EXPECT_EQ(st.usage.upstream, "backup");
  EXPECT_NE(sink.all().find("\"hi\""), std::string::npos) << sink.all();
  EXPECT_EQ(sink.head["X-Osprey-Upstream"], "backup");
}

TEST_F(UpstreamsTest, ClientErrorsAreNotRetriedElsewhereAndTheLastFailureIsAnswered) {
  up->on([](const RecordedRequest&) {
    return FakeUpstream::json(400, R"({"error":{"message":"bad temperature","type":"invalid_request_error","code":"invalid_value"}})");
  });
  up2->on([](const RecordedRequest&) { return FakeUpstream::json(200, completion_from("backup")); });
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(60000));
  ups->add(std::make_shared<Gateway>(config_for("primary", *up, {kServerKey})), {}, 1);
  ups->add(std::make_shared<Gateway>(config_for("backup", *up2, {kServerKey})), {"never-*"}, 1);
  auto r = call(ups, http::Verb::post, "/v1/chat/completions", kChatBody);
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.json["error"]["message"], "bad temperature");
  EXPECT_FALSE(ups->all()[0]->cooling());

  // Both failing: the answer is the last one's error, OpenAI-shaped.
  up->on([](const RecordedRequest&) { return FakeUpstream::json(500, R"({"error":{"message":"boom","type":"server_error"}})"); });
  up2->on([](const RecordedRequest&) {
    return FakeUpstream::json(429, R"({"error":{"message":"slow down","type":"rate_limit_error"}})", {{"retry-after", "0"}});
  });
  auto both = std::make_shared<Upstreams>(std::chrono::milliseconds(60000));
  both->add(std::make_shared<Gateway>(config_for("a", *up, {kServerKey})), {}, 1, 0);
  both->add(std::make_shared<Gateway>(config_for("b", *up2, {kServerKey})), {}, 1, 1);
  auto f = call(both, http::Verb::post, "/v1/chat/completions", kChatBody);
  EXPECT_EQ(f.status(), 429) << f.res.body();
  EXPECT_EQ(f.json["error"]["message"], "slow down");
}

TEST_F(UpstreamsTest, WeightsShareTheLoadWithinAPriority) {
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(1000));
  ups->add(std::make_shared<Gateway>(config_for("a", *up, {kServerKey})), {}, 3, 0);
  ups->add(std::make_shared<Gateway>(config_for("b", *up2, {kServerKey})), {}, 1, 0);
  ups->add(std::make_shared<Gateway>(config_for("c", *up2, {kServerKey})), {}, 100, 1);
  int first_a = 0;
  for (int i = 0; i < 4000; ++i) {
    auto order = ups->route("m");
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(order[2]->name(), "c") << "a higher priority number is only a fallback";
    first_a += order[0]->name() == "a";
  }
  // 3:1 -> 75 % (binomial sd ~0.7 %, so 70..80 is ~7 sd wide).
  EXPECT_GT(first_a, 2800);
  EXPECT_LT(first_a, 3200);
  ups->cool_down(*ups->all()[0]);
  EXPECT_EQ(ups->route("m").back()->name(), "a") << "cooling comes last";
}

TEST_F(UpstreamsTest, ModelListIsMergedAndCutToWhatEachUpstreamServes) {
  up->on([](const RecordedRequest&) {
    return FakeUpstream::json(200, R"({"object":"list","data":[{"id":"gpt-4o","object":"model"},{"id":"whisper-1","object":"model"}]})");
  });
  up2->on([](const RecordedRequest&) {
    return FakeUpstream::json(200, R"({"object":"list","data":[{"id":"llama3","object":"model"},{"id":"gpt-4o","object":"model"}]})");
  });
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(1000));
  ups->add(std::make_shared<Gateway>(config_for("openai", *up, {kServerKey})), {"gpt-*"}, 1);
  ups->add(std::make_shared<Gateway>(config_for("local", *up2, {})), {}, 1);
  auto r = call(ups, http::Verb::get, "/v1/models", "");
  ASSERT_EQ(r.status(), 200) << r.res.body();
  std::vector<std::string> ids;
  for (const auto& m : r.json["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-4o", "llama3"}));
}

TEST_F(UpstreamsTest, KeysAreReReadFromTheirSourceWithoutARestart) {
  up->on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  auto source = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"sk-first-key-0123456789"});
  auto g = config_for("openai", *up, *source);
  g.key_refresh_ms = 1;
  auto gw = std::make_shared<Gateway>(g, [source] { return *source; });
  auto ups = Upstreams::single(gw);
  ASSERT_EQ(call(ups, http::Verb::post, "/v1/chat/completions", kChatBody).status(), 200);
  *source = {"sk-second-key-9876543210"};
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(call(ups, http::Verb::post, "/v1/chat/completions", kChatBody).status(), 200);
  auto reqs = up->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer sk-first-key-0123456789");
  EXPECT_EQ(reqs[1].header("authorization"), "Bearer sk-second-key-9876543210");
  // The retired key is still scrubbed from what an upstream echoes.
  EXPECT_EQ(gw->redact("old sk-first-key-0123456789 new sk-second-key-9876543210"), "old [REDACTED] new [REDACTED]");

  // A source that fails keeps the keys in use.
  auto broken = std::make_shared<Gateway>(g, []() -> std::vector<std::string> { throw std::runtime_error("file gone"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(broken->keys()->size(), 1u);
}

TEST_F(UpstreamsTest, ResponsesApiJsonIsRelayedWithItsUsage) {
  const std::string answer =
      R"({"id":"resp_1","object":"response","status":"completed","model":"gpt-test","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi!"}]}],"usage":{"input_tokens":12,"output_tokens":4,"total_tokens":16}})";
  up->on([&](const RecordedRequest&) { return FakeUpstream::json(200, answer); });
  gateway::Gateway gw(cfg);
  const std::string body = R"({"model":"gpt-test","input":"Say hi"})";
  auto r = call(gw, http::Verb::post, "/v1/responses", body);
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.res.body(), answer);
  EXPECT_EQ(up->requests()[0].target, "/v1/responses");
  EXPECT_EQ(up->requests()[0].body, body);
  EXPECT_EQ(r.usage.prompt_tokens, 12);
  EXPECT_EQ(r.usage.completion_tokens, 4);
  EXPECT_EQ(r.usage.model, "gpt-test");

  auto bad = call(gw, http::Verb::post, "/v1/responses", R"({"input":"x"})");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_EQ(bad.json["error"]["param"], "model");
}

TEST_F(UpstreamsTest, ResponsesApiStreamKeepsItsEventNamesAndCountsUsage) {
  auto ev = [](const std::string& name, const nlohmann::json& data) {
    return "event: " + name + "\ndata: " + data.dump() + "\n\n";
  };
  const std::string events =
      ev("response.created", {{"type", "response.created"}, {"response", {{"id", "resp_1"}, {"status", "in_progress"}}}}) +
      ev("response.output_text.delta", {{"type", "response.output_text.delta"}, {"delta", "Hel"}}) +
      ev("response.output_text.delta", {{"type", "response.output_text.delta"}, {"delta", "lo"}}) +
      ev("response.completed", {{"type", "response.completed"},
                                {"response", {{"id", "resp_1"}, {"status", "completed"}, {"usage", {{"input_tokens", 9}, {"output_tokens", 2}}}}}});
  up->on([&](const RecordedRequest&) {
    Script s{{Action::send, FakeUpstream::sse_head()}};
    s.push_back({Action::send, FakeUpstream::chunk(events.substr(0, 100))});  // split mid-event
    s.push_back({Action::send, FakeUpstream::chunk(events.substr(100))});
    s.push_back({Action::send, FakeUpstream::last_chunk()});
    return s;
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  auto r = call(gw, http::Verb::post, "/v1/responses", R"({"model":"gpt-test","input":"Say hello","stream":true})", &sink);
  EXPECT_EQ(sink.all(), events) << "relayed byte for byte, names included, no [DONE] added";
  EXPECT_EQ(sink.head[http::Field::content_type], "text/event-stream");
  EXPECT_EQ(r.usage.prompt_tokens, 9);
  EXPECT_EQ(r.usage.completion_tokens, 2);

  // Cut short before response.completed: an estimate, never zero.
  up->on([&](const RecordedRequest&) {
    Script s{{Action::send, FakeUpstream::sse_head()}};
    s.push_back({Action::send, FakeUpstream::chunk(events.substr(0, events.find("event: response.completed")))});
    s.push_back({Action::delay, {}, 200});  // a reset at once would discard what the gateway had not read yet
    s.push_back({Action::reset});
    return s;
  });
  FakeSink cut;
  auto c = call(gw, http::Verb::post, "/v1/responses", R"({"model":"gpt-test","input":"Say hello","stream":true})", &cut);
  EXPECT_NE(cut.all().find("event: error\ndata: "), std::string::npos) << cut.all();
  EXPECT_GT(c.usage.completion_tokens, 0) << cut.all();
  EXPECT_GT(c.usage.prompt_tokens, 0);
}

}  // namespace
}  // namespace osprey::gwtest
