#pragma once
// A throwaway redis-server for tests: free loopback port, no persistence,
// SIGKILLed when the object dies. Needs redis-server on PATH.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "access/redis_client.hpp"

namespace osprey::testutil {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A throwaway redis-server: no persistence, loopback only, killed at the end.
class RedisServer {
 public:
  RedisServer() {
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      auto p = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    access::RedisClient probe(endpoint(), {100, 500, 0});
    for (int i = 0; i < 100; ++i) {
      try {
        probe.command_sync({"PING"});
        return;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_));
  }
  ~RedisServer() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  access::RedisEndpoint endpoint() const {
    access::RedisEndpoint ep;
    ep.port = port_;
    return ep;
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace osprey::testutil
