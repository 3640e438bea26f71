#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace osprey::test {

namespace fs = std::filesystem;

std::string shared_dir() {
  if (const char* v = std::getenv("OSPREY_SHARED_DIR")) return v;
  return (fs::path(source_dir()) / ".." / "shared").lexically_normal().string();
}
std::string source_dir() {
  if (const char* v = std::getenv("OSPREY_SOURCE_DIR")) return v;
  return fs::current_path().string();
}
std::string binary_path() {
  if (const char* v = std::getenv("OSPREY_BINARY")) return v;
  throw std::runtime_error("OSPREY_BINARY is not set (run tests through ctest)");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string HttpResponse::header(const std::string& name) const {
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  auto it = headers.find(lower);
  return it == headers.end() ? std::string{} : it->second;
}

namespace {

int connect_to(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to " + host + ":" + std::to_string(port) + " failed: " + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

// Reads more bytes into `buf`; returns false on EOF. Throws on timeout.
bool read_more(int fd, std::string& buf, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) throw std::runtime_error("timed out waiting for the server");
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    char tmp[65536];
    auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return false;
      throw std::runtime_error(std::string("recv failed: ") + std::strerror(errno));
    }
    if (n == 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
}

// Tries to parse one complete response from the front of `buf`. Returns
// nullopt if more bytes are needed; `eof` allows a close-delimited body.
std::optional<HttpResponse> parse_response(std::string& buf, bool eof, bool head_request = false) {
  auto hend = buf.find("\r\n\r\n");
  if (hend == std::string::npos) return std::nullopt;
  HttpResponse res;
  std::istringstream hs(buf.substr(0, hend));
  std::string line;
  std::getline(hs, line);
  if (line.size() < 12) throw std::runtime_error("bad status line: " + line);
  res.status = std::stoi(line.substr(9, 3));
  while (std::getline(hs, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    res.headers[name] = value;
  }
  std::size_t pos = hend + 4;
  if (res.status == 100) {
    buf.erase(0, pos);
    return parse_response(buf, eof, head_request);
  }
  if (head_request || res.status == 204 || res.status == 304) {
    buf.erase(0, pos);
    return res;
  }
  if (res.header("transfer-encoding").find("chunked") != std::string::npos) {
    std::string body;
    std::size_t p = pos;
    for (;;) {
      auto le = buf.find("\r\n", p);
      if (le == std::string::npos) return std::nullopt;
      std::size_t size = std::stoul(buf.substr(p, le - p), nullptr, 16);
      if (size == 0) {
        auto end = buf.find("\r\n", le + 2);
        if (end == std::string::npos) return std::nullopt;
        buf.erase(0, end + 2);
        res.body = std::move(body);
        return res;
      }
      if (buf.size() < le + 2 + size + 2) return std::nullopt;
      body.append(buf, le + 2, size);
      p = le + 2 + size + 2;
    }
  }
  auto cl = res.header("content-length");
  if (!cl.empty()) {
    std::size_t n = std::stoul(cl);
    if (buf.size() < pos + n) return std::nullopt;
    res.body = buf.substr(pos, n);
    buf.erase(0, pos + n);
    return res;
  }
  if (!eof) return std::nullopt;
  res.body = buf.substr(pos);
  buf.clear();
  return res;
}

}  // namespace

struct HttpClient::Impl {
  std::string host;
  int port;
  int fd = -1;
  std::string buf;
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    buf.clear();
  }
};

HttpClient::HttpClient(std::string host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}
HttpClient::~HttpClient() { impl_->close(); }

HttpResponse HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + impl_->host + ":" + std::to_string(impl_->port) + "\r\n";
  bool has_ct = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (strcasecmp(k.c_str(), "content-type") == 0) has_ct = true;
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    if (!has_ct) req += "Content-Type: application/json\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (impl_->fd < 0) impl_->fd = connect_to(impl_->host, impl_->port);
    try {
      send_all(impl_->fd, req);
      auto deadline = std::chrono::steady_clock::now() + timeout_;
      for (;;) {
        if (auto res = parse_response(impl_->buf, false, method == "HEAD")) {
          if (res->header("connection") == "close") impl_->close();
          return *res;
        }
        if (!read_more(impl_->fd, impl_->buf, deadline)) {
          auto res = parse_response(impl_->buf, true, method == "HEAD");
          impl_->close();
          if (res) return *res;
          throw std::runtime_error("connection closed before a response");
        }
      }
    } catch (const std::runtime_error& e) {
      bool stale = impl_->buf.empty() && attempt == 0 && std::string(e.what()).find("closed before") != std::string::npos;
      impl_->close();
      if (!stale) throw;
    }
  }
  throw std::runtime_error("request failed");
}

RawConnection::RawConnection(const std::string& host, int port) : fd_(connect_to(host, port)) {}
RawConnection::~RawConnection() { close(); }
void RawConnection::send(const std::string& bytes) { send_all(fd_, bytes); }
void RawConnection::send_and_close(const std::string& bytes) {
  // MSG_MORE holds the bytes back until the close, which sends them with its FIN.
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_MORE);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::vector<HttpResponse> RawConnection::read_responses(std::size_t n, std::chrono::milliseconds timeout) {
  std::vector<HttpResponse> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    if (auto res = parse_response(buffer_, false)) {
      out.push_back(std::move(*res));
      continue;
    }
    if (!read_more(fd_, buffer_, deadline)) {
      while (out.size() < n) {
        auto res = parse_response(buffer_, true);
        if (!res) break;
        out.push_back(std::move(*res));
      }
      break;
    }
  }
  return out;
}

bool RawConnection::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    for (;;) {
      if (auto at = buffer_.find(text); at != std::string::npos) {
        buffer_.erase(0, at + text.size());
        return true;
      }
      if (!read_more(fd_, buffer_, deadline)) return false;
    }
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::optional<std::string> RawConnection::take_until(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    for (;;) {
      if (auto at = buffer_.find(text); at != std::string::npos) {
        std::string out = buffer_.substr(0, at + text.size());
        buffer_.erase(0, at + text.size());
        return out;
      }
      if (!read_more(fd_, buffer_, deadline)) return std::nullopt;
    }
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

std::optional<std::string> RawConnection::take(std::size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    while (buffer_.size() < n)
      if (!read_more(fd_, buffer_, deadline)) return std::nullopt;
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    while (read_more(fd_, buffer_, deadline)) {
    }
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

// --- OspreyProcess ---------------------------------------------------------

std::unique_ptr<OspreyProcess> OspreyProcess::start(std::vector<std::string> args, std::map<std::string, std::string> env,
                                                    std::chrono::seconds ready_timeout, Wait wait) {
  std::unique_ptr<OspreyProcess> p(new OspreyProcess());
  auto dir = make_temp_dir("osprey-proc");
  p->log_path_ = dir + "/osprey.log";
  bool has_data_dir = false;
  for (const auto& a : args)
    if (a == "--data-dir") has_data_dir = true;
  p->data_dir_ = dir + "/data";
  std::vector<std::string> argv = {binary_path(), "serve", "--host", "127.0.0.1", "--port", "0"};
  if (!has_data_dir) {
    argv.push_back("--data-dir");
    argv.push_back(p->data_dir_);
  } else {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--data-dir") p->data_dir_ = args[i + 1];
  }
  argv.insert(argv.end(), args.begin(), args.end());
  // Tests must not pick up a developer's .env by accident.
  if (!env.count("OSPREY_ENV_FILE")) env["OSPREY_ENV_FILE"] = dir + "/absent.env";
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    std::_Exit(127);
  }
  p->pid_ = pid;
  // The startup log names the port: "listening on http://127.0.0.1:PORT".
  auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  std::regex re("listening on http://[^:]+:([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto st = p->wait_exit(std::chrono::milliseconds(0))) {
      throw std::runtime_error("osprey exited with status " + std::to_string(*st) + " during startup:\n" + p->log());
    }
    std::smatch m;
    auto text = p->log();
    if (std::regex_search(text, m, re)) {
      p->port_ = std::stoi(m[1]);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!p->port_) throw std::runtime_error("osprey did not report its port in time:\n" + p->log());
  if (wait == Wait::logged_ready) {
    while (std::chrono::steady_clock::now() < deadline) {
      if (p->log().find(" info ready\n") != std::string::npos) return p;
      if (auto st = p->wait_exit(std::chrono::milliseconds(0)))
        throw std::runtime_error("osprey exited with status " + std::to_string(*st) + ":\n" + p->log());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("osprey did not log \"ready\" in time:\n" + p->log());
  }
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      HttpClient c("127.0.0.1", p->port_);
      c.set_timeout(std::chrono::seconds(2));
      if (c.get("/v2/health/ready").status == 200) return p;
    } catch (const std::exception&) {
    }
    if (auto st = p->wait_exit(std::chrono::milliseconds(0)))
      throw std::runtime_error("osprey exited with status " + std::to_string(*st) + ":\n" + p->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("osprey did not become ready in time:\n" + p->log());
}

std::string OspreyProcess::create_key(const std::string& data_dir, std::vector<std::string> args) {
  std::vector<std::string> all{"keys", "create", "--name", "test", "--data-dir", data_dir};
  all.insert(all.end(), args.begin(), args.end());
  auto [rc, out] = run(all);
  // The key is printed alone on its own line.
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("osk_", 0) == 0 && rc == 0) return line;
  std::fprintf(stderr, "create_key: no key (exit %d) in: %s\n", rc, out.c_str());
  return {};
}

std::pair<int, std::string> OspreyProcess::run(std::vector<std::string> args, std::map<std::string, std::string> env,
                                               std::chrono::seconds timeout) {
  auto dir = make_temp_dir("osprey-run");
  std::string out_path = dir + "/out.txt";
  std::vector<std::string> argv = {binary_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!env.count("OSPREY_ENV_FILE")) env["OSPREY_ENV_FILE"] = dir + "/absent.env";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    std::_Exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error("osprey " + (args.empty() ? std::string() : args[0]) + " timed out");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return {code, read_file(out_path)};
}

OspreyProcess::~OspreyProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(5));
    }
  }
}

std::string OspreyProcess::log() const {
  try {
    return read_file(log_path_);
  } catch (...) {
    return {};
  }
}

void OspreyProcess::signal(int sig) { ::kill(pid_, sig); }

std::optional<int> OspreyProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exited_) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace osprey::test
