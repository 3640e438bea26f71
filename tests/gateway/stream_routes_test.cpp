// Route-level tests of the gateway's streaming: SSE relayed chunk by chunk,
// the response head and end in as few writes as possible, usage asked of
// the upstream and passed on only when the client asked, the server key
// scrubbed from events (fake OpenAI upstream over TLS, as routes_test.cpp).

#include <atomic>
#include <memory>
#include <thread>

#include "gateway_fixture.hpp"

namespace osprey::gwtest {
namespace {

using nlohmann::json;

TEST_F(GatewayTest, StreamIsRelayedChunkByChunk) {
  auto gate = std::make_shared<std::atomic<bool>>(false);
  up->on([gate](const RecordedRequest&) {
    Script s;
    s.push_back({Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("Hel")))});
    s.push_back({Action::gate, {}, 0, gate});  // the rest only once the client has the first chunk
    // Split an event across chunks, and a CRLF across chunks.
    std::string second = sse(content_chunk("lo"));
    s.push_back({Action::send, FakeUpstream::chunk(second.substr(0, 10))});
    s.push_back({Action::send, FakeUpstream::chunk(second.substr(10))});
    s.push_back({Action::send, FakeUpstream::chunk("data: " + usage_chunk(5, 2) + "\r")});
    s.push_back({Action::send, FakeUpstream::chunk("\n\r\ndata: [DONE]\n\n") + FakeUpstream::last_chunk()});
    return s;
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  int writes_before_gate = -1;
  sink.on_write = [&](std::string_view) {
    if (!gate->load()) writes_before_gate = static_cast<int>(sink.chunks.size());
    gate->store(true);
  };
  auto r = chat(gw, kStreamBody, &sink);
  EXPECT_FALSE(up->gate_timed_out) << "the first chunk did not reach the client before the upstream sent the rest";
  EXPECT_EQ(writes_before_gate, 1);
  ASSERT_TRUE(sink.started());
  EXPECT_EQ(sink.head[http::Field::content_type], "text/event-stream");
  ASSERT_EQ(sink.chunks.size(), 3u) << sink.all();  // two content events + [DONE]; usage not asked for
  EXPECT_EQ(sink.chunks[0], sse(content_chunk("Hel")));
  EXPECT_EQ(sink.chunks[1], sse(content_chunk("lo")));
  EXPECT_EQ(sink.chunks[2], "data: [DONE]\n\n");
  EXPECT_TRUE(sink.ended);
  // Upstream was asked for usage; the ledger got the upstream's figures.
  auto sent = json::parse(up->requests().at(0).body);
  EXPECT_EQ(sent["stream_options"]["include_usage"], true);
  EXPECT_EQ(r.usage.prompt_tokens, 5);
  EXPECT_EQ(r.usage.completion_tokens, 2);
  EXPECT_EQ(r.usage.model, "gpt-test");
}

// The events of the upstream's last read leave together with [DONE] and the
// end of the response: one write, not three (gateway.hpp: no on_flush after
// the read that brought [DONE], when the body's end has arrived too).
TEST_F(GatewayTest, StreamEndLeavesInOneWrite) {
  auto gate = std::make_shared<std::atomic<bool>>(false);
  up->on([gate](const RecordedRequest&) {
    Script s;
    s.push_back({Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("a")))});
    s.push_back({Action::gate, {}, 0, gate});  // the rest once the client has "a"
    s.push_back({Action::send, FakeUpstream::chunk(sse(content_chunk("b")) + sse("[DONE]")) + FakeUpstream::last_chunk()});
    return s;
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  sink.on_write = [&](std::string_view) { gate->store(true); };
  auto r = chat(gw, kStreamBody, &sink);
  EXPECT_FALSE(up->gate_timed_out);
  ASSERT_EQ(sink.chunks.size(), 2u) << sink.all();
  EXPECT_EQ(sink.chunks[0], sse(content_chunk("a")));
  EXPECT_EQ(sink.chunks[1], sse(content_chunk("b")) + "data: [DONE]\n\n");
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(r.usage.completion_tokens, 1);  // no usage chunk: "ab" estimated, 2 chars -> 1 token
}

TEST_F(GatewayTest, UsageChunkForwardedWhenClientAsked) {
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("Hi")) + sse(usage_chunk(4, 1)) + sse("[DONE]")) +
                                     FakeUpstream::last_chunk()}};
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  chat(gw, R"({"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[]})", &sink);
  EXPECT_EQ(sink.all(), sse(content_chunk("Hi")) + sse(usage_chunk(4, 1)) + "data: [DONE]\n\n");
}

// The client's response head is held until there is something to send with
// it: when the upstream's head came with events, head and events leave in
// one write; when it came alone, the head goes out on its own before the
// wait for the first event (the client learns at once that its stream is
// open).
TEST_F(GatewayTest, StreamHeadLeavesWithTheFirstEventsOrBeforeTheWait) {
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("Hi")) + sse("[DONE]")) +
                                     FakeUpstream::last_chunk()}};
  });
  gateway::Gateway gw(cfg);
  {
    FakeSink sink;
    chat(gw, kStreamBody, &sink);
    EXPECT_TRUE(sink.head_sent);
    EXPECT_EQ(sink.head_flushes, 0);  // it went with the events
    EXPECT_EQ(sink.all(), sse(content_chunk("Hi")) + "data: [DONE]\n\n");
  }
  auto gate = std::make_shared<std::atomic<bool>>(false);
  up->on([gate](const RecordedRequest&) {
    Script s;
    s.push_back({Action::send, FakeUpstream::sse_head()});
    s.push_back({Action::gate, {}, 0, gate});  // the first event only once the client has the head
    s.push_back({Action::send, FakeUpstream::chunk(sse(content_chunk("Hi")))});
    s.push_back({Action::send, FakeUpstream::chunk(sse("[DONE]")) + FakeUpstream::last_chunk()});
    return s;
  });
  FakeSink sink;
  sink.on_flush = [&] { gate->store(true); };
  chat(gw, kStreamBody, &sink);
  EXPECT_FALSE(up->gate_timed_out) << "the head did not reach the client before the upstream's first event";
  EXPECT_EQ(sink.head_flushes, 1);
  EXPECT_EQ(sink.all(), sse(content_chunk("Hi")) + "data: [DONE]\n\n");
}

// A stream asks the upstream for usage (the ledger's token counts). The
// client's body is kept byte for byte where it can be: without
// stream_options the request gains it at the front; with include_usage
// true it goes as is; anything else is rewritten. The usage-only chunk
// reaches the client only when it asked for it.
TEST_F(GatewayTest, StreamRequestAsksForUsageAndKeepsTheRestOfTheBody) {
  up->on([](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head() +
                                     FakeUpstream::chunk(sse(content_chunk("Hi")) +
                                                         sse(R"({"id":"c1","object":"chat.completion.chunk","choices": [ ],"usage":{"prompt_tokens":7,"completion_tokens":2}})") +
                                                         sse("[DONE]")) +
                                     FakeUpstream::last_chunk()}};
  });
  gateway::Gateway gw(cfg);
  const std::string rest = R"("model":"gpt-test","stream":true,"temperature":1.50,"x":{"y":[1,2.0e0,"\u00e9"]},"messages":[]})";
  struct Case {
    std::string body;
    std::string sent;        // exact body upstream, or "" to check only include_usage
    bool client_gets_usage;
  };
  for (const auto& c : {Case{"{" + rest, R"({"stream_options":{"include_usage":true},)" + rest, false},
                        Case{" \n {" + rest, R"( )" "\n" R"( {"stream_options":{"include_usage":true},)" + rest, false},
                        Case{R"({"stream_options":{"include_usage":true},)" + rest, R"({"stream_options":{"include_usage":true},)" + rest, true},
                        Case{R"({"stream_options":{"include_usage":false},)" + rest, "", false},
                        Case{R"({"stream_options":{},)" + rest, "", false},
                        Case{R"({"stream_options":null,)" + rest, "", false},
                        Case{R"({"stream_options":{"include_usage":1},)" + rest, "", false}}) {
    const std::size_t before = up->requests().size();
    FakeSink sink;
    auto r = chat(gw, c.body, &sink);
    ASSERT_EQ(up->requests().size(), before + 1) << c.body;
    const std::string sent = up->requests().back().body;
    if (!c.sent.empty()) {
      EXPECT_EQ(sent, c.sent);
    }
    auto j = json::parse(sent);
    EXPECT_EQ(j["stream_options"]["include_usage"], true) << c.body;
    EXPECT_EQ(j["temperature"], 1.5) << c.body;
    EXPECT_EQ(j["x"]["y"][2], "\u00e9") << c.body;
    EXPECT_EQ(sink.all().find("\"usage\"") != std::string::npos, c.client_gets_usage) << c.body;
    EXPECT_EQ(r.usage.prompt_tokens, 7) << c.body;
    EXPECT_EQ(r.usage.completion_tokens, 2) << c.body;
  }
  auto bad = chat(gw, R"({"model":"gpt-test","stream":true,"stream_options":5})");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_EQ(bad.json["error"]["param"], "stream_options");
}

// In a stream the key is looked for once per upstream read, and on its own
// in an event that did not lie whole in one read: an echo split between
// two reads is scrubbed too.
TEST_F(GatewayTest, StreamEchoOfTheKeyIsRedactedWhereverItFalls) {
  auto gate = std::make_shared<std::atomic<bool>>(false);
  up->on([gate](const RecordedRequest& r) {
    const std::string key = r.header("authorization").substr(7);
    const std::string split = sse(content_chunk("second " + key));
    const std::size_t cut = split.find(key) + key.size() / 2;
    Script s;
    s.push_back({Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("first " + key)))});
    s.push_back({Action::gate, {}, 0, gate});
    s.push_back({Action::send, FakeUpstream::chunk(split.substr(0, cut))});
    s.push_back({Action::delay, {}, 50});  // its own read
    s.push_back({Action::send, FakeUpstream::chunk(split.substr(cut))});
    s.push_back({Action::delay, {}, 50});
    s.push_back({Action::send, FakeUpstream::chunk(sse(content_chunk("clean")) + "data: [DONE]\n\n") + FakeUpstream::last_chunk()});
    return s;
  });
  gateway::Gateway gw(cfg);
  FakeSink sink;
  sink.on_write = [&](std::string_view) { gate->store(true); };
  chat(gw, kStreamBody, &sink);
  EXPECT_FALSE(up->gate_timed_out);
  const std::string all = sink.all();
  EXPECT_EQ(all.find(kServerKey), std::string::npos) << all;
  EXPECT_EQ(all.find(kServerKey.substr(0, kServerKey.size() / 2)), std::string::npos) << all;
  EXPECT_NE(all.find(sse(content_chunk("first [REDACTED]"))), std::string::npos) << all;
  EXPECT_NE(all.find(sse(content_chunk("second [REDACTED]"))), std::string::npos) << all;
  EXPECT_NE(all.find(sse(content_chunk("clean"))), std::string::npos) << all;
}

// Over plain HTTP (local upstreams, the benches) the gateway reads what has
// already arrived itself before it waits for the head
// (Connection::take_arrived): an answer that came whole, one whose head
// came late, and one that stalls between head and events all relay the
// same.
TEST_F(GatewayTest, PlainUpstreamStreamsWhetherItsAnswerCameAtOnceOrLater) {
  up = std::make_unique<FakeUpstream>(nullptr);
  cfg.base_url = up->base_url();
  const std::string events = sse(content_chunk("Hi")) + sse(usage_chunk(4, 1));
  const std::string want = sse(content_chunk("Hi")) + "data: [DONE]\n\n";
  gateway::Gateway gw(cfg);
  {
    up->on([&](const RecordedRequest&) {
      return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(events + sse("[DONE]")) + FakeUpstream::last_chunk()}};
    });
    FakeSink sink;
    auto r = chat(gw, kStreamBody, &sink);
    EXPECT_EQ(sink.all(), want);
    EXPECT_EQ(r.usage.prompt_tokens, 4);
  }
  {
    up->on([&](const RecordedRequest&) {
      return Script{{Action::delay, {}, 100},
                    {Action::send, FakeUpstream::sse_head()},
                    {Action::delay, {}, 50},
                    {Action::send, FakeUpstream::chunk(events)},
                    {Action::send, FakeUpstream::chunk(sse("[DONE]")) + FakeUpstream::last_chunk()}};
    });
    FakeSink sink;
    auto r = chat(gw, kStreamBody, &sink);
    EXPECT_EQ(sink.all(), want);
    EXPECT_EQ(r.usage.completion_tokens, 1);
  }
  EXPECT_EQ(up->connections(), 1);  // kept alive across both
}

// An idle pooled connection the upstream has closed is found out when the
// answer does not come, and the stream goes out on a new connection, over
// TLS and over plain HTTP.
TEST_F(GatewayTest, StaleKeepAliveConnectionIsReplacedForAStreamToo) {
  for (bool tls : {true, false}) {
    SCOPED_TRACE(tls ? "tls" : "plain");
    up = std::make_unique<FakeUpstream>(tls ? pki.get() : nullptr);
    cfg.base_url = up->base_url();
    std::atomic<int> n{0};
    up->on([&](const RecordedRequest&) {
      if (n++ == 0) {
        auto s = FakeUpstream::json(200, kCompletion);
        s.push_back({Action::close});  // keep-alive promised, then closed
        return s;
      }
      return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("Hi")) + sse("[DONE]")) +
                                       FakeUpstream::last_chunk()}};
    });
    gateway::Gateway gw(cfg);
    EXPECT_EQ(chat(gw, kChatBody).status(), 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    FakeSink sink;
    chat(gw, kStreamBody, &sink);
    EXPECT_EQ(sink.all(), sse(content_chunk("Hi")) + "data: [DONE]\n\n");
    EXPECT_EQ(up->requests().size(), 2u);
    EXPECT_EQ(up->connections(), 2);
  }
}

}  // namespace
}  // namespace osprey::gwtest
