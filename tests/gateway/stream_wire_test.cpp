// A relayed stream on the wire, through the real server: the response head
// is held until something can go with it (server/stream_sink.hpp), yet it
// reaches the client before the server waits for the upstream's first
// event, and the chunked framing stays whole whichever way head, events and
// end are grouped into writes.

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "fake_upstream.hpp"
#include "gateway_fixture.hpp"
#include "support.hpp"

namespace osprey::gwtest {
namespace {

const std::string kBody = R"({"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]})";
const std::string kRequest = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(kBody.size()) + "\r\n\r\n" + kBody;

TEST(StreamWire, HeadGoesOutAloneBeforeTheWaitAndWithTheEventsOtherwise) {
  auto dir = temp_dir();
  TestPki pki(dir);
  FakeUpstream up(&pki);
  auto srv = test::OspreyProcess::start({"--auth=false"}, {{"OPENAI_BASE_URL", up.base_url()},
                                                           {"OPENAI_API_KEY", kServerKey},
                                                           {"OSPREY_UPSTREAM_CA_FILE", pki.ca_file},
                                                           {"OSPREY_ENV_FILE", "/nonexistent"}});
  const std::string events = sse(content_chunk("Hel")) + sse(content_chunk("lo"));

  // The upstream answers its head, then thinks: the client must get the
  // head while the upstream still thinks (the gate), then the events.
  auto gate = std::make_shared<std::atomic<bool>>(false);
  up.on([&](const RecordedRequest&) {
    Script s;
    s.push_back({Action::send, FakeUpstream::sse_head()});
    s.push_back({Action::gate, {}, 0, gate});
    s.push_back({Action::send, FakeUpstream::chunk(events + sse("[DONE]")) + FakeUpstream::last_chunk()});
    return s;
  });
  {
    test::RawConnection c("127.0.0.1", srv->port());
    c.send(kRequest);
    ASSERT_TRUE(c.read_until("Transfer-Encoding: chunked\r\n", std::chrono::seconds(3)))
        << "no response head while the upstream waits for its first event";
    gate->store(true);
    // Then the events, and the response's last chunk.
    ASSERT_TRUE(c.read_until("data: [DONE]\n\n\r\n0\r\n\r\n", std::chrono::seconds(5)));
    EXPECT_FALSE(up.gate_timed_out);
  }

  // Head, events and end arrive from the upstream at once: a whole,
  // well-framed response, twice on one keep-alive connection.
  up.on([&](const RecordedRequest&) {
    return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(events + sse("[DONE]")) + FakeUpstream::last_chunk()}};
  });
  test::RawConnection c("127.0.0.1", srv->port());
  c.send(kRequest + kRequest);
  auto rs = c.read_responses(2);
  ASSERT_EQ(rs.size(), 2u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/event-stream");
    EXPECT_EQ(r.body, events + "data: [DONE]\n\n");
  }
}

}  // namespace
}  // namespace osprey::gwtest
