#pragma once
// RedisLimiter: the Limiter shared by every replica that points at the same
// Redis. Each admit()/settle() is ONE Lua script run atomically by Redis, so
// limits are exact to the request across replicas: with rpm=N, N requests
// pass per minute in total, whichever replica serves them.
//
// Data, per key id:
//   osprey:rl:<key_id>  hash  m/req/tok/img (minute window), d/dtok (day),
//                             mo/usd (month, USD in nano-dollars)
//   osprey:cc:<key_id>  zset  in-flight request ids scored by lease expiry
// Window ids come from the caller's clock (replicas are expected to run NTP;
// skew only matters within milliseconds of a boundary). The concurrency
// slot is a lease (lease_ms): a replica that dies mid-request leaks its slot
// only until the lease expires.
//
// The Redis round trips run on RedisClient's thread; the caller's coroutine
// is suspended meanwhile, never its I/O thread.

#include <memory>

#include "access/limiter.hpp"
#include "access/redis_client.hpp"

namespace osprey::access {

class RedisLimiter final : public Limiter {
 public:
  explicit RedisLimiter(std::shared_ptr<RedisClient> redis, std::int64_t lease_ms = 10 * 60 * 1000);

  http::Awaitable<Admission> admit(const std::string& key_id, const Limits& limits, const std::string& request_id,
                                   Checks checks, std::int64_t now_ms) override;
  http::Awaitable<Counters> settle(const std::string& key_id, const Limits& limits, const std::string& request_id,
                                   const Consumption& used, std::int64_t now_ms) override;

  void abandon(const std::string& key_id, const std::string& request_id) noexcept override;
  Admission take_images(const std::string& key_id, const Limits& limits, std::int64_t images,
                        std::int64_t now_ms) override;

  // Blocking forms (tests).
  Admission admit_sync(const std::string& key_id, const Limits& limits, const std::string& request_id,
                       Checks checks, std::int64_t now_ms);
  Counters settle_sync(const std::string& key_id, const std::string& request_id, const Consumption& used,
                       std::int64_t now_ms);

 private:
  std::vector<std::string> admit_args(const Limits& l, const std::string& request_id, Checks c,
                                      std::int64_t now_ms) const;
  std::vector<std::string> settle_args(const std::string& request_id, const Consumption& u,
                                       std::int64_t now_ms) const;
  static Admission to_admission(const Reply& r, std::int64_t now_ms);

  std::shared_ptr<RedisClient> redis_;
  std::int64_t lease_ms_;
};

}  // namespace osprey::access
