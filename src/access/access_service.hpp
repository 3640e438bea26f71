#pragma once
// AccessService: who may call, and how much. Owns the key store, the
// in-memory key cache the auth path reads, and the limiter.
//
//   access::AccessService access(cfg, &ledger);    // at startup, after the ledger
//   access::install_access_middleware(router, access, ledger);
//
// Construction resolves the pepper (see pepper.hpp), opens data_dir/keys.db,
// inserts AccessConfig::bootstrap_admin_key if it is set and not yet stored
// (scopes admin, detect, chat), picks RedisLimiter when access.redis_url is
// set (LocalLimiter otherwise) and, for the local limiter, seeds today's
// tokens and this month's cost per key from the ledger so budgets survive
// a restart.
//
// The auth path never touches SQLite: authenticate() hashes the presented
// key and looks it up in an immutable snapshot of all keys (swapped
// atomically). The snapshot is rebuilt after every change made through this
// service. A change made by another process (`osprey keys create` or
// `keys revoke` while the server runs) bumps the data dir's key generation
// (key_generation.hpp); the middleware checks it on every request
// (keys_changed(), one shared-memory load) and, when it moved, awaits
// refresh_keys() on the store thread before it authenticates, so the very
// next request sees the change. A poller that checks SQLite's data_version
// every `poll_interval` (1 s) catches writers that do not bump the
// generation (sqlite3 by hand, a writer killed between commit and bump).

#include <utility>  // before any Boost.Asio header (g++ 12)
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "access/key.hpp"
#include "access/key_store.hpp"
#include "access/limiter.hpp"
#include "config/config.hpp"
#include "http/context.hpp"

namespace osprey::usage {
class Ledger;
}

namespace osprey::access {

class RedisClient;

class AccessService {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{1000};
    // Tests inject a limiter (and a clock) to control windows exactly.
    std::shared_ptr<Limiter> limiter;
    std::function<std::int64_t()> clock;  // ms since the epoch; default: system clock
  };

  // `ledger` may be null (no budget seeding). Throws std::runtime_error when
  // the store cannot be opened, std::invalid_argument on a bad redis_url.
  AccessService(const config::Config& cfg, usage::Ledger* ledger, Options opts);
  AccessService(const config::Config& cfg, usage::Ledger* ledger) : AccessService(cfg, ledger, Options{}) {}
  ~AccessService();
  AccessService(const AccessService&) = delete;
  AccessService& operator=(const AccessService&) = delete;

  // `expired`: the key is known and not revoked, but its expires_at has
  // passed (Auth::key says when).
  enum class AuthResult { ok, missing, unknown, revoked, expired };
  struct Auth {
    AuthResult result = AuthResult::missing;
    std::shared_ptr<const KeyRecord> key;
  };
  // Thread-safe, no I/O: HMAC + hash map + sodium_memcmp.
  Auth authenticate(std::string_view presented) const;

  bool auth_required() const { return cfg_.access.auth_required; }
  bool fail_open() const { return cfg_.access.redis_fail_open; }
  bool metrics_public() const { return cfg_.server.metrics_public; }
  Limiter& limiter() { return *limiter_; }
  std::int64_t now_ms() const { return clock_(); }

  // Cost of a request from the price table: exact model name first, else the
  // longest price entry that is a prefix of the model ("gpt-4o-mini" prices
  // "gpt-4o-mini-2024-07-18"). Unknown model: 0.
  double cost_usd(const http::Usage& u) const;

  // Key administration, run on the store thread (never on I/O threads).
  http::Awaitable<CreatedKey> create_key(KeySpec spec);
  http::Awaitable<std::vector<KeyRecord>> list_keys();
  http::Awaitable<std::optional<KeyRecord>> get_key(std::string id);
  http::Awaitable<bool> revoke_key(std::string id);
  // KeyStore::rotate on the store thread; nullopt for an unknown or revoked
  // id. Throws ApiError 400/409 as KeyStore::rotate does.
  http::Awaitable<std::optional<RotatedKey>> rotate_key(std::string id, std::int64_t grace_seconds);

  // The cached record of a key id (nullptr when unknown); no I/O.
  std::shared_ptr<const KeyRecord> find_by_id(std::string_view id) const;

  // Registers a presented key as a log secret the first time that key id
  // authenticates, so that it is redacted if it ever reaches a log line.
  void remember_secret(const std::string& key_id, std::string_view plaintext);

  // Re-reads every key into the cache (blocking).
  void reload();
  // True when another process changed the keys since the cache was read.
  bool keys_changed() const {
    return store_->generation().current() != cached_generation_.load(std::memory_order_acquire);
  }
  // Re-reads the keys on the store thread if they changed; true if it did.
  http::Awaitable<bool> refresh_keys();
  std::size_t cached_keys() const;

  // Logs "limiter unavailable" at most once per 10 s, with a count of the
  // suppressed repeats.
  void note_limiter_failure(const std::string& what);

 private:
  struct Cache {
    // first 8 bytes of the hash -> keys; the full hash is compared with
    // sodium_memcmp.
    std::unordered_map<std::uint64_t, std::vector<std::shared_ptr<const KeyRecord>>> by_hash;
    std::map<std::string, std::shared_ptr<const KeyRecord>, std::less<>> by_id;
    std::size_t size = 0;
  };
  template <class Fn>
  auto on_store(Fn fn, bool mutates) -> http::Awaitable<decltype(fn(std::declval<KeyStore&>()))>;
  void reload_locked();
  void poll_loop();

  config::Config cfg_;
  std::string pepper_;
  std::function<std::int64_t()> clock_;
  std::shared_ptr<Limiter> limiter_;
  std::shared_ptr<RedisClient> redis_;

  mutable std::mutex store_mu_;
  std::unique_ptr<KeyStore> store_;
  std::shared_ptr<const Cache> cache_;  // std::atomic_load/store
  std::int64_t seen_version_ = 0;
  std::atomic<std::uint64_t> cached_generation_{0};  // the key generation the cache was read at

  std::mutex secrets_mu_;
  std::set<std::string, std::less<>> secret_ids_;

  std::mutex log_mu_;
  std::int64_t last_failure_log_ms_ = 0;
  std::int64_t suppressed_failures_ = 0;

  std::chrono::milliseconds poll_interval_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stopping_ = false;
  std::thread poller_;
  boost::asio::thread_pool store_pool_{1};
};

}  // namespace osprey::access
