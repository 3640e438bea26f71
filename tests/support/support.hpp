#pragma once
// Test support shared by every test: where the shared data lives, a real
// `osprey` process on an ephemeral loopback port, and a small blocking HTTP
// client that speaks to it.
//
//   auto srv = test::OspreyProcess::start({"--models", test::shared_dir() + "/models"});
//   test::HttpClient c("127.0.0.1", srv->port());
//   auto res = c.get("/v2/health/ready");
//   EXPECT_EQ(res.status, 200);
//
// The process is stopped (SIGTERM, then SIGKILL after 10 s) when the
// OspreyProcess is destroyed. Its stderr (the log) is kept in a file under a
// per-test temporary directory; log() reads it.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace osprey::test {

std::string shared_dir();   // $OSPREY_SHARED_DIR or ../shared of the source tree
std::string source_dir();   // $OSPREY_SOURCE_DIR
std::string binary_path();  // $OSPREY_BINARY
std::string read_file(const std::string& path);
std::string make_temp_dir(const std::string& prefix = "osprey-test");

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
};

// Blocking HTTP/1.1 client over one keep-alive connection; reconnects when
// the server closed it. Throws std::runtime_error on I/O failure.
class HttpClient {
 public:
  HttpClient(std::string host, int port);
  ~HttpClient();
  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});
  HttpResponse get(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request("GET", target, {}, headers);
  }
  HttpResponse post(const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers = {}) {
    return request("POST", target, body, headers);
  }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::chrono::milliseconds timeout_{30000};
};

// Raw TCP for tests that need byte-level control (pipelining, slow clients,
// oversized headers). Blocking; each call has a timeout.
class RawConnection {
 public:
  RawConnection(const std::string& host, int port);
  ~RawConnection();
  void send(const std::string& bytes);
  // Sends `bytes` and closes, so that the close travels with the last of
  // them (one segment: the server reads the bytes with the close behind).
  void send_and_close(const std::string& bytes);
  // Reads until `n` complete HTTP responses arrived (Content-Length or
  // chunked framing) or the peer closed; returns what was read.
  std::vector<HttpResponse> read_responses(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until `text` arrived and drops everything up to and including it
  // (a 100 Continue, which read_responses skips); false on EOF or timeout.
  bool read_until(const std::string& text, std::chrono::milliseconds timeout);
  // Reads until `text` arrived and returns everything up to and including
  // it (removed from the buffer); nullopt on EOF or timeout. For streamed
  // bodies read piece by piece (Server-Sent Events, MJPEG).
  std::optional<std::string> take_until(const std::string& text, std::chrono::milliseconds timeout);
  // Reads exactly n bytes (after what is buffered); nullopt on EOF or timeout.
  std::optional<std::string> take(std::size_t n, std::chrono::milliseconds timeout);
  // Reads until EOF or timeout; true if the peer closed the connection.
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  int fd_ = -1;
  std::string buffer_;
};

class OspreyProcess {
 public:
  // Starts `osprey serve --host 127.0.0.1 --port 0 --data-dir <tmp> <args>`
  // with `env` added to the environment and waits until /v2/health/ready
  // answers 200 (or throws after `ready_timeout`).
  // With wait = logged_ready it returns as soon as the log has its "ready"
  // line, without probing anything: what a script that waits for the log
  // would do.
  enum class Wait { probe_ready, logged_ready };
  static std::unique_ptr<OspreyProcess> start(std::vector<std::string> args = {},
                                              std::map<std::string, std::string> env = {},
                                              std::chrono::seconds ready_timeout = std::chrono::seconds(60),
                                              Wait wait = Wait::probe_ready);
  // Same, for another subcommand (no readiness wait); returns exit code and output.
  static std::pair<int, std::string> run(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                                         std::chrono::seconds timeout = std::chrono::seconds(120));
  // `osprey keys create --name test --data-dir data_dir <args>` (e.g.
  // {"--scopes", "detect", "--ipm", "3"}); returns the new key, or "" after
  // an ADD_FAILURE-style message on stderr when none was printed.
  static std::string create_key(const std::string& data_dir, std::vector<std::string> args);
  ~OspreyProcess();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const;
  // Sends `sig`; wait_exit returns the exit status (or -signal).
  void signal(int sig);
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  OspreyProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string data_dir_;
  std::string log_path_;
  bool exited_ = false;
  int exit_status_ = 0;
};

}  // namespace osprey::test
