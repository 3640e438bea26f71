#pragma once
// LocalLimiter: the Limiter for a single process. All counters live in one
// map under a mutex; every operation is a few integer updates, so the lock
// is held for well under a microsecond and I/O threads never wait on
// anything slower. Budgets survive restarts through seed() (the server
// seeds from the usage ledger at startup).

#include <map>
#include <mutex>

#include "access/limiter.hpp"

namespace osprey::access {

class LocalLimiter final : public Limiter {
 public:
  http::Awaitable<Admission> admit(const std::string& key_id, const Limits& limits, const std::string& request_id,
                                   Checks checks, std::int64_t now_ms) override;
  http::Awaitable<Counters> settle(const std::string& key_id, const Limits& limits, const std::string& request_id,
                                   const Consumption& used, std::int64_t now_ms) override;
  void seed(const std::string& key_id, std::int64_t day_tokens, double month_usd, std::int64_t now_ms) override;
  void abandon(const std::string& key_id, const std::string& request_id) noexcept override;
  Admission take_images(const std::string& key_id, const Limits& limits, std::int64_t images,
                        std::int64_t now_ms) override;

  // The same operations without a coroutine (tests, benchmarks).
  Admission admit_now(const std::string& key_id, const Limits& limits, Checks checks, std::int64_t now_ms);
  Counters settle_now(const std::string& key_id, const Consumption& used, std::int64_t now_ms);

 private:
  struct State {
    std::int64_t minute = -1, requests = 0, tokens = 0, images = 0;
    std::int64_t day = -1, day_tokens = 0;
    std::int64_t month = -1, month_usd_nano = 0;
    std::int64_t in_flight = 0;
  };
  static void roll(State& s, const Windows& w);
  // The key's counters in the windows of now_ms (under mu_).
  State& current(const std::string& key_id, std::int64_t now_ms);
  static bool budget_spent(const State& s, const Limits& l);
  static Counters snapshot(const State& s, std::int64_t now_ms);

  std::mutex mu_;
  std::map<std::string, State, std::less<>> keys_;
};

}  // namespace osprey::access
