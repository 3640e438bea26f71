#include "access/access_service.hpp"  // first: brings <utility> before Asio

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <cstring>

#include <fmt/ranges.h>

#include "access/local_limiter.hpp"
#include "access/pepper.hpp"
#include "access/redis_client.hpp"
#include "access/redis_limiter.hpp"
#include "common/log.hpp"
#include "usage/completion.hpp"
#include "usage/ledger.hpp"

namespace osprey::access {

namespace {
std::uint64_t bucket_of(std::string_view hash) {
  std::uint64_t b = 0;
  std::memcpy(&b, hash.data(), std::min<std::size_t>(8, hash.size()));
  return b;
}
}  // namespace

AccessService::AccessService(const config::Config& cfg, usage::Ledger* ledger, Options opts)
    : cfg_(cfg), poll_interval_(opts.poll_interval) {
  clock_ = opts.clock ? opts.clock : [] { return usage::now_ms(); };
  pepper_ = resolve_pepper(cfg_.access.pepper, cfg_.data_dir);
  store_ = std::make_unique<KeyStore>(cfg_.data_dir, pepper_);

  if (!cfg_.access.bootstrap_admin_key.empty()) {
    log::register_secret(cfg_.access.bootstrap_admin_key);
    KeySpec spec;
    spec.name = "bootstrap-admin";
    spec.scopes = {"admin", "detect", "chat"};
    if (store_->import(cfg_.access.bootstrap_admin_key, spec))
      spdlog::info("access: stored the bootstrap admin key (OSPREY_ADMIN_KEY)");
  }

  if (opts.limiter) {
    limiter_ = opts.limiter;
  } else if (!cfg_.access.redis_url.empty()) {
    auto ep = RedisEndpoint::parse(cfg_.access.redis_url);
    redis_ = std::make_shared<RedisClient>(ep);
    limiter_ = std::make_shared<RedisLimiter>(redis_);
    try {
      redis_->command_sync({"PING"});
      spdlog::info("access: rate limits and budgets shared through Redis at {}", ep.describe());
    } catch (const std::exception& e) {
      spdlog::error("access: {} -- requests with limits will get {} until it is reachable", e.what(),
                    cfg_.access.redis_fail_open ? "no limits (redis_fail_open)" : "503");
    }
  } else {
    limiter_ = std::make_shared<LocalLimiter>();
  }

  // Budgets survive restarts: the local limiter starts from what the ledger
  // says this key already spent today / this month.
  if (ledger && !redis_ && !opts.limiter) {
    auto now = clock_();
    auto day = ledger->totals_by_key({"", usage::utc_day_start_ms(now), 0});
    auto month = ledger->totals_by_key({"", usage::utc_month_start_ms(now), 0});
    for (auto& [key, t] : month) {
      if (key.empty()) continue;
      auto d = day.find(key);
      limiter_->seed(key, d == day.end() ? 0 : d->second.tokens(), t.cost_usd, now);
    }
  }

  {
    std::lock_guard lock(store_mu_);
    seen_version_ = store_->data_version();
    reload_locked();
  }
  poller_ = std::thread([this] { poll_loop(); });
}

AccessService::~AccessService() {
  {
    std::lock_guard lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  poller_.join();
  store_pool_.join();
}

void AccessService::reload() {
  std::lock_guard lock(store_mu_);
  reload_locked();
}

void AccessService::reload_locked() {
  // Read the generation before the keys: a change committed after this read
  // bumps it past `generation`, and the next request reloads again.
  auto generation = store_->generation().current();
  auto next = std::make_shared<Cache>();
  for (auto& k : store_->list()) {
    auto rec = std::make_shared<const KeyRecord>(std::move(k));
    next->by_hash[bucket_of(rec->hash)].push_back(rec);
    next->by_id[rec->id] = rec;
    ++next->size;
  }
  std::atomic_store(&cache_, std::shared_ptr<const Cache>(std::move(next)));
  cached_generation_.store(generation, std::memory_order_release);
}


std::shared_ptr<const KeyRecord> AccessService::find_by_id(std::string_view id) const {
  auto cache = std::atomic_load(&cache_);
  auto it = cache->by_id.find(id);
  return it == cache->by_id.end() ? nullptr : it->second;
}

void AccessService::remember_secret(const std::string& key_id, std::string_view plaintext) {
  {
    std::lock_guard lock(secrets_mu_);
    if (!secret_ids_.insert(key_id).second) return;
  }
  log::register_secret(plaintext);
}

std::size_t AccessService::cached_keys() const { return std::atomic_load(&cache_)->size; }

void AccessService::poll_loop() {
  std::unique_lock lock(poll_mu_);
  while (!poll_cv_.wait_for(lock, poll_interval_, [this] { return stopping_; })) {
    lock.unlock();
    try {
      std::lock_guard store_lock(store_mu_);
      auto v = store_->data_version();
      if (v != seen_version_) {
        seen_version_ = v;
        reload_locked();
        spdlog::debug("access: keys changed on disk, cache reloaded");
      }
    } catch (const std::exception& e) {
      spdlog::warn("access: polling keys.db failed: {}", e.what());
    }
    lock.lock();
  }
}

AccessService::Auth AccessService::authenticate(std::string_view presented) const {
  Auth a;
  if (presented.empty()) return a;
  a.result = AuthResult::unknown;
  // Keys over 512 bytes cannot be ours; do not spend HMAC time on them.
  if (presented.size() > 512) return a;
  auto h = hash_key(pepper_, presented);
  auto cache = std::atomic_load(&cache_);
  auto it = cache->by_hash.find(bucket_of(h));
  if (it == cache->by_hash.end()) return a;
  for (const auto& rec : it->second) {
    if (hashes_equal(rec->hash, h)) {
      a.key = rec;
      if (rec->revoked()) a.result = AuthResult::revoked;
      // The clock is read only for keys that can expire.
      else if (rec->expires_at != 0 && rec->expired(clock_() / 1000)) a.result = AuthResult::expired;
      else a.result = AuthResult::ok;
      return a;
    }
  }
  return a;
}

double AccessService::cost_usd(const http::Usage& u) const {
  if (u.model.empty() || (u.prompt_tokens <= 0 && u.completion_tokens <= 0)) return 0;
  const config::Config::Price* price = nullptr;
  if (auto it = cfg_.prices.find(u.model); it != cfg_.prices.end()) {
    price = &it->second;
  } else {
    std::size_t best = 0;
    for (const auto& [name, p] : cfg_.prices) {
      if (name.size() > best && u.model.compare(0, name.size(), name) == 0) {
        best = name.size();
        price = &p;
      }
    }
  }
  if (!price) return 0;
  return (static_cast<double>(std::max<long>(0, u.prompt_tokens)) * price->input_per_mtok +
          static_cast<double>(std::max<long>(0, u.completion_tokens)) * price->output_per_mtok) /
         1e6;
}

void AccessService::note_limiter_failure(const std::string& what) {
  std::lock_guard lock(log_mu_);
  auto now = usage::now_ms();
  if (now - last_failure_log_ms_ < 10'000) {
    ++suppressed_failures_;
    return;
  }
  spdlog::error("access: rate limiter unavailable ({}); {} ({} similar errors suppressed in the last 10 s)", what,
                fail_open() ? "serving WITHOUT limits (redis_fail_open)" : "answering 503 (fail closed)",
                suppressed_failures_);
  last_failure_log_ms_ = now;
  suppressed_failures_ = 0;
}

template <class Fn>
auto AccessService::on_store(Fn fn, bool mutates) -> http::Awaitable<decltype(fn(std::declval<KeyStore&>()))> {
  using T = decltype(fn(std::declval<KeyStore&>()));
  // Not a coroutine (see usage/completion.hpp): a plain function posted to
  // the store thread.
  return usage::complete_from_thread<T>([this, mutates, fn = std::move(fn)](usage::Done<T> done) mutable {
    boost::asio::post(store_pool_, [this, mutates, fn = std::move(fn), done = std::move(done)]() mutable {
      try {
        std::lock_guard lock(store_mu_);
        T out = fn(*store_);
        if (mutates) reload_locked();
        done(nullptr, std::move(out));
      } catch (...) {
        done(std::current_exception(), T{});
      }
    });
  });
}

http::Awaitable<CreatedKey> AccessService::create_key(KeySpec spec) {
  // Named awaitables: no temporaries live across a co_await (g++ 12, see
  // usage/completion.hpp).
  auto work = on_store([spec = std::move(spec)](KeyStore& s) { return s.create(spec); }, true);
  auto created = co_await std::move(work);
  spdlog::info("access: created key {} ({}) scopes={}", created.record.id, created.record.name,
               fmt::join(created.record.scopes, ","));
  co_return created;
}

http::Awaitable<std::vector<KeyRecord>> AccessService::list_keys() {
  return on_store([](KeyStore& s) { return s.list(); }, false);
}

http::Awaitable<std::optional<KeyRecord>> AccessService::get_key(std::string id) {
  return on_store([id = std::move(id)](KeyStore& s) { return s.get(id); }, false);
}

http::Awaitable<bool> AccessService::revoke_key(std::string id) {
  auto work = on_store([id](KeyStore& s) { return s.revoke(id); }, true);
  auto ok = co_await std::move(work);
  if (ok) spdlog::info("access: revoked key {}", id);
  co_return ok;
}

http::Awaitable<std::optional<RotatedKey>> AccessService::rotate_key(std::string id, std::int64_t grace_seconds) {
  auto work = on_store([id, grace_seconds](KeyStore& s) { return s.rotate(id, grace_seconds); }, true);
  auto rotated = co_await std::move(work);
  if (rotated)
    spdlog::info("access: rotated key {} -> {} ({})", id, rotated->key.record.id,
                 rotated->previous.revoked() ? "old key revoked"
                                             : "old key valid until " + utc_time(rotated->previous.expires_at));
  co_return rotated;
}

http::Awaitable<bool> AccessService::refresh_keys() {
  // Every request that saw the change may ask; the first one reloads, the
  // others find the generation current and return at once.
  return on_store(
      [this](KeyStore& s) {
        if (s.generation().current() == cached_generation_.load(std::memory_order_acquire)) return false;
        reload_locked();
        spdlog::debug("access: keys changed by another process, cache reloaded");
        return true;
      },
      false);
}

}  // namespace osprey::access
