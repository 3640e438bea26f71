// End-to-end tests of the HTTP server core against the real `osprey` binary
// on an ephemeral loopback port.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "support.hpp"

using namespace osprey::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> base_args() { return {"--models", make_temp_dir("empty-models"), "--auth", "false"}; }

// Sends GET /v2/health/live on `conn` and reads its one response into `out`.
void get_live(RawConnection& conn, HttpResponse& out) {
  conn.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = conn.read_responses(1);
  ASSERT_EQ(res.size(), 1u);
  out = res[0];
}

}  // namespace

TEST(Server, HealthProbesAndMetadata) {
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(c.get("/v2/health/live").status, 200);
  EXPECT_EQ(c.get("/v2/health/ready").status, 200);
  EXPECT_EQ(c.get("/healthz").status, 200);
  auto meta = nlohmann::json::parse(c.get("/v2").body);
  EXPECT_EQ(meta["name"], "osprey");
  EXPECT_TRUE(meta.contains("version"));
  EXPECT_TRUE(meta["extensions"].is_array());
}

TEST(Server, WithoutModelsTheHeavyLibrariesAreNeverMapped) {
  // libtorch, OpenCV's imgcodecs and FFmpeg are plugins that load with the
  // first model or stream needing them (libtorch and imgcodecs alone ~140 MB
  // of RSS): a server without models, a gateway, must not map them at all.
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  ASSERT_EQ(c.get("/v2/health/ready").status, 200);
  std::ifstream maps("/proc/" + std::to_string(srv->pid()) + "/maps");
  ASSERT_TRUE(maps) << "no /proc maps for the server";
  std::string line, heavy;
  while (std::getline(maps, line))
    for (const char* lib : {"libtorch", "libc10.so", "libgomp", "libopencv_imgcodecs", "libgdal", "libosprey_torch",
                            "libosprey_codecs", "libavcodec", "libavformat", "libosprey_video"})
      if (line.find(lib) != std::string::npos) heavy += line + "\n";
  EXPECT_TRUE(heavy.empty()) << heavy;
}

TEST(Server, KeepAliveServesManyRequestsOnOneConnection) {
  auto srv = OspreyProcess::start(base_args());
  RawConnection conn("127.0.0.1", srv->port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse res;
    ASSERT_NO_FATAL_FAILURE(get_live(conn, res));
    EXPECT_EQ(res.status, 200);
    EXPECT_NE(res.header("connection"), "close");
  }
}

namespace {

// User + system CPU time of a process, in seconds (from /proc/PID/stat).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

TEST(Server, AdaptiveBusyPollingIsTheDefaultAndAnIdleServerSleeps) {
  auto args = base_args();
  for (const char* a : {"--threads", "2"}) args.push_back(a);
  auto srv = OspreyProcess::start(args);
  EXPECT_NE(srv->log().find("2 I/O threads, adaptive busy polling up to 100 us"), std::string::npos) << srv->log();
  RawConnection conn("127.0.0.1", srv->port());
  HttpResponse res;
  for (int i = 0; i < 200; ++i) {  // back to back: the serving thread's window opens
    ASSERT_NO_FATAL_FAILURE(get_live(conn, res));
    EXPECT_EQ(res.status, 200);
  }
  // Idle now (a keep-alive connection open, nothing sent): two threads that
  // kept polling would use about 2 s of CPU in this second; sleeping ones
  // use next to nothing (the windows close after a few 100 ms sweep ticks).
  std::this_thread::sleep_for(200ms);
  double before = cpu_seconds(srv->pid());
  std::this_thread::sleep_for(1s);
  double used = cpu_seconds(srv->pid()) - before;
  EXPECT_LT(used, 0.3) << "an idle server with busy polling must sleep";
  ASSERT_NO_FATAL_FAILURE(get_live(conn, res));
  EXPECT_EQ(res.status, 200);
  // Graceful shutdown ends the polling loops as it ends plain ones.
  srv->signal(SIGTERM);
  EXPECT_EQ(srv->wait_exit(10s), std::optional<int>(0));
}

TEST(Server, BusyPollingCanBeTurnedOff) {
  auto args = base_args();
  for (const char* a : {"--busy-poll-us", "0", "--threads", "1"}) args.push_back(a);
  auto srv = OspreyProcess::start(args);
  EXPECT_NE(srv->log().find("1 I/O threads, busy polling off"), std::string::npos) << srv->log();
  RawConnection conn("127.0.0.1", srv->port());
  HttpResponse res;
  ASSERT_NO_FATAL_FAILURE(get_live(conn, res));
  EXPECT_EQ(res.status, 200);
}

TEST(Server, Http10KeepAliveIsHonouredAndCloseIsTheDefault) {
  auto srv = OspreyProcess::start(base_args());
  RawConnection conn("127.0.0.1", srv->port());
  for (int i = 0; i < 3; ++i) {
    conn.send("GET /v2/health/ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto res = conn.read_responses(1);
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0].status, 200);
    EXPECT_EQ(res[0].header("connection"), "keep-alive");
    EXPECT_EQ(res[0].header("content-length"), std::to_string(res[0].body.size()));
  }
  conn.send("GET /v2/health/live HTTP/1.0\r\n\r\n");
  auto last = conn.read_responses(1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].status, 200);
  EXPECT_TRUE(conn.wait_closed(std::chrono::seconds(5)));
}

TEST(Server, ASecondServerOnTheSamePortFailsInsteadOfSharingIt) {
  auto srv = OspreyProcess::start(base_args());
  auto extra = base_args();
  std::vector<std::string> second = {"serve", "--host", "127.0.0.1", "--port", std::to_string(srv->port()),
                                     "--data-dir", make_temp_dir("second-data")};
  second.insert(second.end(), extra.begin(), extra.end());
  auto [rc, out] = OspreyProcess::run(second, {}, std::chrono::seconds(30));
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("already in use"), std::string::npos) << out;
  // The first one still serves every connection.
  HttpClient c("127.0.0.1", srv->port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.get("/v2/health/live").status, 200);
}

TEST(Server, PipelinedRequestsAreAnsweredInOrder) {
  auto srv = OspreyProcess::start(base_args());
  RawConnection conn("127.0.0.1", srv->port());
  conn.send(
      "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nx-request-id: first\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\nx-request-id: second\r\n\r\n"
      "POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nx-request-id: third\r\n\r\n{}"
      "GET /v2 HTTP/1.1\r\nHost: x\r\nx-request-id: fourth\r\n\r\n");
  auto res = conn.read_responses(4);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_EQ(res[0].status, 200);
  EXPECT_EQ(res[0].header("x-request-id"), "first");
  EXPECT_EQ(res[1].status, 404);
  EXPECT_EQ(res[1].header("x-request-id"), "second");
  EXPECT_EQ(res[2].status, 405);
  EXPECT_EQ(res[2].header("allow"), "GET");
  EXPECT_EQ(res[3].status, 200);
  EXPECT_EQ(res[3].header("x-request-id"), "fourth");
}

TEST(Server, ErrorsAreJsonWithTheOneShape) {
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  for (auto* target : {"/definitely/not/here", "/v2/health/live"}) {
    auto res = std::string(target) == "/v2/health/live" ? c.request("DELETE", target) : c.get(target);
    EXPECT_EQ(res.header("content-type"), "application/json");
    auto j = nlohmann::json::parse(res.body);
    ASSERT_TRUE(j["error"].is_object()) << res.body;
    for (auto* field : {"message", "type", "code", "param"}) EXPECT_TRUE(j["error"].contains(field)) << field;
  }
}

TEST(Server, RequestIdIsGeneratedOrEchoed) {
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  auto a = c.get("/v2/health/live");
  auto b = c.get("/v2/health/live");
  EXPECT_FALSE(a.header("x-request-id").empty());
  EXPECT_NE(a.header("x-request-id"), b.header("x-request-id"));
  EXPECT_EQ(c.get("/v2/health/live", {{"X-Request-Id", "abc-123"}}).header("x-request-id"), "abc-123");
  // An unsafe incoming id (log injection) is replaced, not echoed.
  auto evil = c.get("/v2/health/live", {{"X-Request-Id", "a b\"c"}});
  EXPECT_NE(evil.header("x-request-id"), "a b\"c");
  // The access log has one line per request with status and latency.
  auto log = srv->log();
  EXPECT_NE(log.find("\"GET /v2/health/live\" 200"), std::string::npos) << log;
  EXPECT_NE(log.find("rid=abc-123"), std::string::npos) << log;
}

TEST(Server, OversizedBodyGets413BeforeTheBodyIsSent) {
  auto args = base_args();
  args.insert(args.end(), {"--max-body-bytes", "1k"});
  auto srv = OspreyProcess::start(args);
  RawConnection conn("127.0.0.1", srv->port());
  conn.send("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  auto res = conn.read_responses(1);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].status, 413);
  EXPECT_EQ(nlohmann::json::parse(res[0].body)["error"]["code"], "body_too_large");
  EXPECT_TRUE(conn.wait_closed(5s));
  // Chunked bodies have no Content-Length: the cap applies while reading.
  RawConnection chunked("127.0.0.1", srv->port());
  std::string big(2048, 'x');
  chunked.send("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + big + "\r\n0\r\n\r\n");
  auto res2 = chunked.read_responses(1);
  ASSERT_EQ(res2.size(), 1u);
  EXPECT_EQ(res2[0].status, 413) << res2[0].body;
}

TEST(Server, OversizedHeaderGets431) {
  auto srv = OspreyProcess::start(base_args());
  RawConnection conn("127.0.0.1", srv->port());
  conn.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  auto res = conn.read_responses(1);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].status, 431);
  EXPECT_EQ(res[0].header("content-type"), "application/json");
}

TEST(Server, MalformedRequestGets400) {
  auto srv = OspreyProcess::start(base_args());
  RawConnection conn("127.0.0.1", srv->port());
  conn.send("THIS IS NOT HTTP\r\n\r\n");
  auto res = conn.read_responses(1);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].status, 400);
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(c.get("/v2/health/live?x=%zz").status, 400);
}

TEST(Server, SlowClientsAreTimedOut) {
  auto args = base_args();
  args.insert(args.end(), {"--header-timeout-ms", "300", "--body-timeout-ms", "300", "--idle-timeout-ms", "500"});
  auto srv = OspreyProcess::start(args);
  // Header trickling in too slowly.
  RawConnection slow_header("127.0.0.1", srv->port());
  slow_header.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n");
  auto r1 = slow_header.read_responses(1, 5s);
  ASSERT_EQ(r1.size(), 1u);
  EXPECT_EQ(r1[0].status, 408);
  // Body never completed.
  RawConnection slow_body("127.0.0.1", srv->port());
  slow_body.send("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
  auto r2 = slow_body.read_responses(1, 5s);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].status, 408);
  // Idle keep-alive connection is closed quietly.
  RawConnection idle("127.0.0.1", srv->port());
  idle.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle.read_responses(1).size(), 1u);
  EXPECT_TRUE(idle.wait_closed(5s));
}

TEST(Server, AClientThatStopsReadingIsCutAfterTheWriteTimeout) {
  auto args = base_args();
  args.insert(args.end(), {"--body-timeout-ms", "300"});
  auto srv = OspreyProcess::start(args);
  // Ten pipelined requests for the 1.4 MB bundle, a small receive window and
  // no reads: more than the kernel buffers hold on both sides (the server's
  // send buffer grows to 4 MiB at most), so a write has to wait, and its
  // deadline cuts it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int rcvbuf = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(srv->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  constexpr int kRequests = 10;
  std::string req;
  for (int i = 0; i < kRequests; ++i) req += "GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(1500ms);
  // Now read: what the server had written, then its close, short of the
  // ten answers.
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  std::vector<char> buf(1 << 16);
  bool closed = false;
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      closed = n == 0 || errno == ECONNRESET;
      break;
    }
    got.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "the server still held the connection after its write timeout";
  std::size_t answers = 0;
  for (auto pos = got.find("HTTP/1.1 200 OK\r\n"); pos != std::string::npos; pos = got.find("HTTP/1.1 200 OK\r\n", pos + 1))
    ++answers;
  EXPECT_GE(answers, 1u);
  EXPECT_LT(answers, static_cast<std::size_t>(kRequests)) << "every answer arrived: no write ever waited";
  // The server goes on serving.
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(c.get("/v2/health/live").status, 200);
}

TEST(Server, GracefulShutdownFinishesInFlightRequests) {
  auto srv = OspreyProcess::start(base_args());
  // A request whose body is still arriving is in flight: it must be answered.
  // The 100 Continue proves the server has its header (under load, a fixed
  // sleep does not: the header could still be unread when the signal lands).
  RawConnection inflight("127.0.0.1", srv->port());
  inflight.send("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(inflight.read_until("HTTP/1.1 100 Continue\r\n\r\n", 10s));
  inflight.send("{}");
  // An idle keep-alive connection is closed at once.
  RawConnection idle("127.0.0.1", srv->port());
  idle.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle.read_responses(1).size(), 1u);
  std::this_thread::sleep_for(100ms);
  srv->signal(SIGTERM);
  EXPECT_TRUE(idle.wait_closed(5s));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(srv->wait_exit(0ms).has_value()) << "exited with a request in flight";
  inflight.send("{}");
  auto res = inflight.read_responses(1, 10s);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].status, 405);  // answered (POST on a GET route), not dropped
  EXPECT_EQ(res[0].header("connection"), "close");
  auto code = srv->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  // New connections are refused once draining has begun.
  EXPECT_THROW(RawConnection("127.0.0.1", srv->port()), std::runtime_error);
}

TEST(Server, GraceDeadlineCutsStuckRequests) {
  auto args = base_args();
  args.insert(args.end(), {"--shutdown-grace-ms", "300", "--body-timeout-ms", "60000"});
  auto srv = OspreyProcess::start(args);
  RawConnection stuck("127.0.0.1", srv->port());
  stuck.send("POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{");
  std::this_thread::sleep_for(100ms);
  srv->signal(SIGINT);
  auto code = srv->wait_exit(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(Server, CorsPreflightAndHeaders) {
  auto args = base_args();
  args.insert(args.end(), {"--cors-origins", "https://app.example"});
  auto srv = OspreyProcess::start(args);
  HttpClient c("127.0.0.1", srv->port());
  auto pre = c.request("OPTIONS", "/v2/health/ready", {},
                       {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(pre.header("access-control-allow-methods").find("POST"), std::string::npos);
  auto get = c.get("/v2/health/ready", {{"Origin", "https://app.example"}});
  EXPECT_EQ(get.header("access-control-allow-origin"), "https://app.example");
  auto other = c.get("/v2/health/ready", {{"Origin", "https://evil.example"}});
  EXPECT_TRUE(other.header("access-control-allow-origin").empty());
}

TEST(Server, OpenApiDocumentListsEveryRoute) {
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  auto res = c.get("/openapi.json");
  ASSERT_EQ(res.status, 200);
  auto doc = nlohmann::json::parse(res.body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  for (auto* p : {"/v2/health/live", "/v2/health/ready", "/healthz", "/v2", "/openapi.json", "/docs"}) {
    ASSERT_TRUE(doc["paths"].contains(p)) << p;
    EXPECT_FALSE(doc["paths"][p]["get"]["summary"].get<std::string>().empty()) << p;
  }
  EXPECT_FALSE(doc["paths"].contains("/docs/swagger-ui-bundle.js"));  // assets are hidden
  auto docs = c.get("/docs");
  EXPECT_EQ(docs.status, 200);
  EXPECT_NE(docs.body.find("/openapi.json"), std::string::npos);
  auto js = c.get("/docs/swagger-ui-bundle.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_GT(js.body.size(), 100000u);  // the real bundle, served locally
  EXPECT_EQ(c.get("/docs/swagger-ui.css").status, 200);
}

TEST(Server, HeadRequestsGetHeadersOnly) {
  auto srv = OspreyProcess::start(base_args());
  HttpClient c("127.0.0.1", srv->port());
  auto head = c.request("HEAD", "/v2");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.header("content-length"), "0");
  // The connection stays in sync: no stray body bytes precede the next answer.
  auto next = c.get("/v2/health/live");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(nlohmann::json::parse(next.body)["status"], "live");
}

TEST(Cli, InvalidConfigExitsNonZeroNamingTheKey) {
  auto dir = make_temp_dir("badcfg");
  std::ofstream(dir + "/osprey.toml") << "[server]\nport = \"not a number\"\n";
  auto [code, out] = OspreyProcess::run({"serve", "--config", dir + "/osprey.toml"});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("server.port"), std::string::npos) << out;
  auto [code2, out2] = OspreyProcess::run({"serve", "--port", "99999"});
  EXPECT_NE(code2, 0);
  EXPECT_NE(out2.find("--port"), std::string::npos) << out2;
}

TEST(Cli, ServeHelpListsEverySetting) {
  auto [code, out] = OspreyProcess::run({"serve", "--help"});
  EXPECT_EQ(code, 0);
  for (auto* flag : {"--host", "--port", "--models", "--data-dir", "--config", "--log-level", "--reload",
                     "--max-body-bytes", "--header-timeout-ms", "--cors-origins", "--busy-poll-us", "OSPREY_PORT"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
}

TEST(Cli, PortTakenByAnotherProgramFailsClearly) {
  // A plain listener (no SO_REUSEPORT) owns the port: osprey must exit non-zero and say why.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  auto [code, out] = OspreyProcess::run({"serve", "--port", std::to_string(port), "--data-dir", make_temp_dir("d"),
                                         "--models", make_temp_dir("m")},
                                        {}, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("cannot listen"), std::string::npos) << out;
}
