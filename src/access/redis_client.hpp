#pragma once
// RedisClient: a Redis connection driven by its own thread, so that I/O
// threads never block on the network.
//
//   RedisClient redis(RedisEndpoint::parse("redis://127.0.0.1:6379/0"));
//   Reply r = co_await redis.eval(script, {"k1"}, {"a1"});
//
// Callers queue commands; the thread sends everything queued in one
// pipeline (one write, then the replies in order), then posts each reply
// back to its caller's executor (usage::complete_from_thread). Scripts go
// as EVALSHA, falling back to EVAL when Redis answers NOSCRIPT (after a
// restart or SCRIPT FLUSH).
//
// Failure: when Redis cannot be reached, or answers with an error, the
// command throws LimiterUnavailable. After a failed connect, further
// commands fail at once for `retry_ms` instead of each paying the connect
// timeout; then the next command tries again.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/message.hpp"

struct redisContext;

namespace osprey::access {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // from redis://:password@host:port/db; a secret
  // Accepts redis://[[user]:password@]host[:port][/db]; throws
  // std::invalid_argument naming what is wrong.
  static RedisEndpoint parse(const std::string& url);
  std::string describe() const;  // host:port/db, no password
};

struct Reply {
  enum class Type { nil, integer, string, status, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;
  std::vector<Reply> elements;
};

class RedisClient {
 public:
  struct Options {
    int connect_timeout_ms = 250;
    int command_timeout_ms = 1000;
    int retry_ms = 1000;
  };
  RedisClient(RedisEndpoint ep, Options opts);
  explicit RedisClient(RedisEndpoint ep) : RedisClient(std::move(ep), Options{}) {}
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  http::Awaitable<Reply> command(std::vector<std::string> args);
  http::Awaitable<Reply> eval(const std::string& script, std::vector<std::string> keys,
                              std::vector<std::string> args);
  // Fire and forget (cleanup paths): errors are ignored.
  void command_detached(std::vector<std::string> args);
  // Blocking forms (tests, startup checks).
  Reply command_sync(std::vector<std::string> args);
  Reply eval_sync(const std::string& script, std::vector<std::string> keys, std::vector<std::string> args);

  const RedisEndpoint& endpoint() const { return ep_; }

 private:
  struct Job {
    std::vector<std::string> args;  // for a script: EVALSHA sha n keys... args...
    std::string script;             // non-empty: args is an EVALSHA
    std::function<void(std::exception_ptr, Reply)> done;
  };
  void submit(Job job);
  void loop();
  void run_batch(std::vector<Job>& batch);
  static void fail_one(Job& job, const std::string& why);
  static void finish(Job& job, void* reply);  // takes ownership of the redisReply
  bool ensure_connected(std::string& err);
  void disconnect();
  static Job make_eval(const std::string& script, std::vector<std::string> keys, std::vector<std::string> args);

  RedisEndpoint ep_;
  Options opts_;
  redisContext* ctx_ = nullptr;
  std::int64_t down_until_ms_ = 0;
  bool was_down_ = false;
  std::string last_error_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace osprey::access
