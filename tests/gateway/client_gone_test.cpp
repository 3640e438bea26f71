// The real server between a client and a slow upstream: when the client
// hangs up while the upstream is still thinking, the upstream call is
// cancelled then, not when the upstream finally answers. The server starts
// a request's close watcher lazily (a tick into the request, see
// server::Connection::defer_watch), so both sides of that moment are tried.

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fake_upstream.hpp"
#include "gateway_fixture.hpp"
#include "support.hpp"

namespace osprey::gwtest {
namespace {

// Value of a counter series in a Prometheus text page (0 when absent).
double metric(const std::string& page, const std::string& series) {
  auto pos = page.find("\n" + series + " ");
  if (pos == std::string::npos) return 0;
  return std::stod(page.substr(pos + series.size() + 2));
}

TEST(ClientGone, UpstreamCallIsCancelledWhenTheClientHangsUp) {
  auto dir = temp_dir();
  TestPki pki(dir);
  FakeUpstream up(&pki);
  up.on([](const RecordedRequest&) {
    Script s{{Action::delay, {}, 4000}};
    auto j = FakeUpstream::json(200, kCompletion);
    s.insert(s.end(), j.begin(), j.end());
    return s;
  });
  auto srv = test::OspreyProcess::start({"--auth=false"}, {{"OPENAI_BASE_URL", up.base_url()},
                                                           {"OPENAI_API_KEY", kServerKey},
                                                           {"OSPREY_UPSTREAM_CA_FILE", pki.ca_file},
                                                           {"OSPREY_ENV_FILE", "/nonexistent"}});
  test::HttpClient metrics("127.0.0.1", srv->port());
  const std::string body = R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})";
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string cancelled = R"(osprey_upstream_errors_total{kind="cancelled"})";

  int n = 0;
  // Before the watcher exists (hung up at once), while it runs, and a close
  // that came with the request itself (-1: the server read the request with
  // the close already behind it, so no later event announces the close).
  for (int hang_up_after_ms : {0, 500, -1}) {
    test::RawConnection c("127.0.0.1", srv->port());
    auto t0 = std::chrono::steady_clock::now();
    if (hang_up_after_ms < 0)
      c.send_and_close(request);
    else
      c.send(request);
    // The upstream got the request: the call is in flight.
    for (int i = 0; i < 500 && static_cast<int>(up.requests().size()) <= n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(static_cast<int>(up.requests().size()), n + 1);
    ++n;
    if (hang_up_after_ms >= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(hang_up_after_ms));
      t0 = std::chrono::steady_clock::now();
      c.close();
    }
    double seen = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) {
      seen = metric(metrics.get("/metrics").body, cancelled);
      if (seen >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(seen, n) << "hung up after " << hang_up_after_ms << " ms";
    // Well before the upstream's 4 s answer (the watcher starts within two
    // sweep ticks of 100 ms).
    EXPECT_LT(took, std::chrono::milliseconds(1500)) << "hung up after " << hang_up_after_ms << " ms";
  }
  // A client that stays gets its answer over the same server.
  up.on([](const RecordedRequest&) { return FakeUpstream::json(200, kCompletion); });
  test::HttpClient c("127.0.0.1", srv->port());
  auto r = c.post("/v1/chat/completions", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace osprey::gwtest
