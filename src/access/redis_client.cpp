#include "access/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <future>
#include <stdexcept>

#include "access/limiter.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "usage/completion.hpp"

namespace osprey::access {

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string sha1_hex(const std::string& s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::nil;
  }
  return out;
}

int parse_int(std::string_view s, const char* what, const std::string& url) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0)
    throw std::invalid_argument(std::string("redis_url: bad ") + what + " in '" + log::redact(url) + "'");
  return v;
}

}  // namespace

RedisEndpoint RedisEndpoint::parse(const std::string& url) {
  RedisEndpoint ep;
  std::string_view s = url;
  constexpr std::string_view scheme = "redis://";
  if (s.substr(0, scheme.size()) != scheme)
    throw std::invalid_argument("redis_url must look like redis://host:port[/db], got '" + log::redact(url) + "'");
  s.remove_prefix(scheme.size());
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    auto cred = s.substr(0, at);
    auto colon = cred.find(':');
    ep.password = std::string(colon == std::string_view::npos ? cred : cred.substr(colon + 1));
    log::register_secret(ep.password);
    s.remove_prefix(at + 1);
  }
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    auto db = s.substr(slash + 1);
    if (!db.empty()) ep.db = parse_int(db, "database number", url);
    s = s.substr(0, slash);
  }
  if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    ep.port = parse_int(s.substr(colon + 1), "port", url);
    s = s.substr(0, colon);
  }
  if (s.empty()) throw std::invalid_argument("redis_url has no host: '" + log::redact(url) + "'");
  if (ep.port <= 0 || ep.port > 65535) throw std::invalid_argument("redis_url: port out of range");
  ep.host = std::string(s);
  return ep;
}

std::string RedisEndpoint::describe() const { return host + ":" + std::to_string(port) + "/" + std::to_string(db); }

RedisClient::RedisClient(RedisEndpoint ep, Options opts) : ep_(std::move(ep)), opts_(opts) {
  thread_ = std::thread([this] { loop(); });
}

RedisClient::~RedisClient() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  disconnect();
}

RedisClient::Job RedisClient::make_eval(const std::string& script, std::vector<std::string> keys,
                                        std::vector<std::string> args) {
  Job j;
  j.script = script;
  j.args = {"EVALSHA", sha1_hex(script), std::to_string(keys.size())};
  for (auto& k : keys) j.args.push_back(std::move(k));
  for (auto& a : args) j.args.push_back(std::move(a));
  return j;
}

void RedisClient::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  job.done(std::make_exception_ptr(LimiterUnavailable("redis client is shut down")), {});
}

// Not coroutines (see usage/completion.hpp).
http::Awaitable<Reply> RedisClient::command(std::vector<std::string> args) {
  return usage::complete_from_thread<Reply>([this, args = std::move(args)](usage::Done<Reply> done) mutable {
    submit(Job{std::move(args), {}, std::move(done)});
  });
}

http::Awaitable<Reply> RedisClient::eval(const std::string& script, std::vector<std::string> keys,
                                         std::vector<std::string> args) {
  auto job = make_eval(script, std::move(keys), std::move(args));
  return usage::complete_from_thread<Reply>([this, job = std::move(job)](usage::Done<Reply> done) mutable {
    job.done = std::move(done);
    submit(std::move(job));
  });
}

void RedisClient::command_detached(std::vector<std::string> args) {
  submit(Job{std::move(args), {}, [](std::exception_ptr, Reply) {}});
}

Reply RedisClient::command_sync(std::vector<std::string> args) {
  std::promise<Reply> p;
  auto f = p.get_future();
  submit(Job{std::move(args), {}, [&p](std::exception_ptr e, Reply r) {
               if (e) p.set_exception(e);
               else p.set_value(std::move(r));
             }});
  return f.get();
}

Reply RedisClient::eval_sync(const std::string& script, std::vector<std::string> keys, std::vector<std::string> args) {
  std::promise<Reply> p;
  auto f = p.get_future();
  auto job = make_eval(script, std::move(keys), std::move(args));
  job.done = [&p](std::exception_ptr e, Reply r) {
    if (e) p.set_exception(e);
    else p.set_value(std::move(r));
  };
  submit(std::move(job));
  return f.get();
}

void RedisClient::loop() {
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      while (!queue_.empty()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
  }
}

void RedisClient::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

bool RedisClient::ensure_connected(std::string& err) {
  if (ctx_) return true;
  if (steady_ms() < down_until_ms_) {
    err = last_error_;
    return false;
  }
  timeval tv{opts_.connect_timeout_ms / 1000, (opts_.connect_timeout_ms % 1000) * 1000};
  ctx_ = redisConnectWithTimeout(ep_.host.c_str(), ep_.port, tv);
  auto fail = [&](std::string why) {
    last_error_ = "redis unreachable at " + ep_.describe() + ": " + why;
    err = last_error_;
    disconnect();
    down_until_ms_ = steady_ms() + opts_.retry_ms;
    was_down_ = true;
    return false;
  };
  if (!ctx_) return fail("out of memory");
  if (ctx_->err) return fail(ctx_->errstr);
  timeval ctv{opts_.command_timeout_ms / 1000, (opts_.command_timeout_ms % 1000) * 1000};
  redisSetTimeout(ctx_, ctv);
  auto simple = [&](std::vector<std::string> args) -> std::string {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!r) return ctx_->errstr;
    std::string e = r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : std::string();
    freeReplyObject(r);
    return e;
  };
  if (!ep_.password.empty()) {
    if (auto e = simple({"AUTH", ep_.password}); !e.empty()) return fail("AUTH failed: " + e);
  }
  if (ep_.db != 0) {
    if (auto e = simple({"SELECT", std::to_string(ep_.db)}); !e.empty()) return fail("SELECT failed: " + e);
  }
  if (was_down_) spdlog::info("redis: connected again to {}", ep_.describe());
  was_down_ = false;
  down_until_ms_ = 0;
  return true;
}

void RedisClient::run_batch(std::vector<Job>& batch) {
  std::string err;
  auto fail_from = [&](std::size_t i, const std::string& why) {
    auto e = std::make_exception_ptr(LimiterUnavailable(why));
    for (; i < batch.size(); ++i) batch[i].done(e, {});
  };
  if (!ensure_connected(err)) return fail_from(0, err);

  auto append = [&](const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK;
  };
  // Pipeline: queue every command, then read the replies in order.
  for (auto& j : batch) {
    if (!append(j.args)) {
      std::string why = "redis write to " + ep_.describe() + " failed: " + ctx_->errstr;
      disconnect();
      return fail_from(0, why);
    }
  }
  std::vector<std::size_t> resend;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) {
      std::string why = "redis connection to " + ep_.describe() + " lost: " + (ctx_->errstr[0] ? ctx_->errstr : "no reply");
      disconnect();
      down_until_ms_ = 0;  // a dropped connection may reconnect at once
      for (auto k : resend) fail_one(batch[k], why);
      return fail_from(i, why);
    }
    auto* r = static_cast<redisReply*>(raw);
    auto& job = batch[i];
    if (r->type == REDIS_REPLY_ERROR && !job.script.empty() &&
        std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
      // The script cache was emptied (Redis restarted, SCRIPT FLUSH): send
      // the script itself, once the pipelined replies have been read.
      freeReplyObject(r);
      job.args[0] = "EVAL";
      job.args[1] = job.script;
      resend.push_back(i);
      continue;
    }
    finish(job, r);
  }
  for (auto k : resend) {
    auto& job = batch[k];
    if (!ctx_) {
      fail_one(job, "redis connection lost");
      continue;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto& a : job.args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!r) {
      std::string why = std::string("redis connection lost: ") + ctx_->errstr;
      disconnect();
      fail_one(job, why);
      continue;
    }
    finish(job, r);
  }
}

void RedisClient::fail_one(Job& job, const std::string& why) {
  job.done(std::make_exception_ptr(LimiterUnavailable(why)), {});
}

void RedisClient::finish(Job& job, void* raw) {
  auto* r = static_cast<redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    std::string msg(r->str, r->len);
    freeReplyObject(r);
    return fail_one(job, "redis error: " + msg);
  }
  Reply rep = convert(r);
  freeReplyObject(r);
  job.done(nullptr, std::move(rep));
}

}  // namespace osprey::access
