#include "access/redis_limiter.hpp"

namespace osprey::access {

namespace {

// Shared prologue: roll the windows over when the caller's window ids
// differ from the stored ones.
#define OSPREY_LUA_ROLL                                                                  \
  "local h, z = KEYS[1], KEYS[2]\n"                                                      \
  "local w = redis.call('HMGET', h, 'm', 'd', 'mo')\n"                                   \
  "if w[1] ~= ARGV[1] then redis.call('HSET', h, 'm', ARGV[1], 'req', 0, 'tok', 0, 'img', 0) end\n" \
  "if w[2] ~= ARGV[2] then redis.call('HSET', h, 'd', ARGV[2], 'dtok', 0) end\n"        \
  "if w[3] ~= ARGV[3] then redis.call('HSET', h, 'mo', ARGV[3], 'usd', 0) end\n"

// ARGV: 1 minute 2 day 3 month 4 now_ms 5 rpm 6 tpm 7 ipm 8 concurrency
//       9 tokens_per_day 10 usd_nano_limit 11 check_tokens 12 check_images
//       13 request_id 14 lease_ms
// Returns {denied_kind, req, tok, img, in_flight, day_tokens, usd_nano};
// denied_kind follows LimitKind (0 = allowed).
const std::string kAdmit = OSPREY_LUA_ROLL R"lua(
local now = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
local c = redis.call('HMGET', h, 'req', 'tok', 'img', 'dtok', 'usd')
local req, tok, img, dtok, usd = tonumber(c[1]), tonumber(c[2]), tonumber(c[3]), tonumber(c[4]), tonumber(c[5])
local inflight = redis.call('ZCARD', z)
local function lim(i) return tonumber(ARGV[i]) end
local deny = 0
if lim(10) > 0 and usd >= lim(10) then deny = 6
elseif ARGV[11] == '1' and lim(9) > 0 and dtok >= lim(9) then deny = 5
elseif ARGV[11] == '1' and lim(6) > 0 and tok >= lim(6) then deny = 2
elseif ARGV[12] == '1' and lim(7) > 0 and img >= lim(7) then deny = 3
elseif lim(5) > 0 and req >= lim(5) then deny = 1
elseif lim(8) > 0 and inflight >= lim(8) then deny = 4
end
if deny == 0 then
  req = redis.call('HINCRBY', h, 'req', 1)
  redis.call('ZADD', z, now + lim(14), ARGV[13])
  redis.call('PEXPIRE', z, lim(14))
  inflight = inflight + 1
end
redis.call('EXPIRE', h, 2764800)
return {deny, req, tok, img, inflight, dtok, usd}
)lua";

// ARGV: 1 minute 2 day 3 month 4 tokens 5 images 6 usd_nano 7 request_id
const std::string kSettle = OSPREY_LUA_ROLL R"lua(
local tok = redis.call('HINCRBY', h, 'tok', ARGV[4])
local img = redis.call('HINCRBY', h, 'img', ARGV[5])
local dtok = redis.call('HINCRBY', h, 'dtok', ARGV[4])
local usd = redis.call('HINCRBY', h, 'usd', ARGV[6])
redis.call('ZREM', z, ARGV[7])
local req = tonumber(redis.call('HGET', h, 'req'))
local inflight = redis.call('ZCARD', z)
redis.call('EXPIRE', h, 2764800)
return {0, req, tok, img, inflight, dtok, usd}
)lua";

// ARGV: 1 minute 2 day 3 month 4 ipm 5 usd_nano_limit 6 images
const std::string kTakeImages = OSPREY_LUA_ROLL R"lua(
local c = redis.call('HMGET', h, 'req', 'tok', 'img', 'dtok', 'usd')
local req, tok, img, dtok, usd = tonumber(c[1]), tonumber(c[2]), tonumber(c[3]), tonumber(c[4]), tonumber(c[5])
local deny = 0
if tonumber(ARGV[5]) > 0 and usd >= tonumber(ARGV[5]) then deny = 6
elseif tonumber(ARGV[4]) > 0 and img >= tonumber(ARGV[4]) then deny = 3
end
if deny == 0 then img = redis.call('HINCRBY', h, 'img', ARGV[6]) end
redis.call('EXPIRE', h, 2764800)
return {deny, req, tok, img, redis.call('ZCARD', z), dtok, usd}
)lua";

#undef OSPREY_LUA_ROLL

std::vector<std::string> keys_for(const std::string& key_id) {
  return {"osprey:rl:" + key_id, "osprey:cc:" + key_id};
}

}  // namespace

RedisLimiter::RedisLimiter(std::shared_ptr<RedisClient> redis, std::int64_t lease_ms)
    : redis_(std::move(redis)), lease_ms_(lease_ms) {}

std::vector<std::string> RedisLimiter::admit_args(const Limits& l, const std::string& request_id, Checks c,
                                                  std::int64_t now_ms) const {
  auto w = windows_at(now_ms);
  return {std::to_string(w.minute),
          std::to_string(w.day),
          std::to_string(w.month),
          std::to_string(now_ms),
          std::to_string(l.rpm),
          std::to_string(l.tpm),
          std::to_string(l.ipm),
          std::to_string(l.concurrency),
          std::to_string(l.tokens_per_day),
          std::to_string(usd_to_nano(l.usd_per_month)),
          c.tokens ? "1" : "0",
          c.images ? "1" : "0",
          request_id,
          std::to_string(lease_ms_)};
}

std::vector<std::string> RedisLimiter::settle_args(const std::string& request_id, const Consumption& u,
                                                   std::int64_t now_ms) const {
  auto w = windows_at(now_ms);
  return {std::to_string(w.minute),        std::to_string(w.day),    std::to_string(w.month),
          std::to_string(u.tokens),        std::to_string(u.images), std::to_string(usd_to_nano(u.usd)),
          request_id};
}

Admission RedisLimiter::to_admission(const Reply& r, std::int64_t now_ms) {
  if (r.type != Reply::Type::array || r.elements.size() != 7)
    throw LimiterUnavailable("redis limiter script returned an unexpected reply");
  auto v = [&](int i) { return static_cast<std::int64_t>(r.elements[i].integer); };
  Admission a;
  a.denied_by = static_cast<LimitKind>(v(0));
  a.allowed = a.denied_by == LimitKind::none;
  a.counters = Counters{now_ms, v(1), v(2), v(3), v(4), v(5), v(6)};
  return a;
}

http::Awaitable<Admission> RedisLimiter::admit(const std::string& key_id, const Limits& limits,
                                               const std::string& request_id, Checks checks, std::int64_t now_ms) {
  // Named awaitable: no temporaries across the co_await (usage/completion.hpp).
  auto call = redis_->eval(kAdmit, keys_for(key_id), admit_args(limits, request_id, checks, now_ms));
  auto r = co_await std::move(call);
  co_return to_admission(r, now_ms);
}

http::Awaitable<Counters> RedisLimiter::settle(const std::string& key_id, const Limits&,
                                               const std::string& request_id, const Consumption& used,
                                               std::int64_t now_ms) {
  auto call = redis_->eval(kSettle, keys_for(key_id), settle_args(request_id, used, now_ms));
  auto r = co_await std::move(call);
  co_return to_admission(r, now_ms).counters;
}

void RedisLimiter::abandon(const std::string& key_id, const std::string& request_id) noexcept {
  try {
    redis_->command_detached({"ZREM", "osprey:cc:" + key_id, request_id});
  } catch (...) {
  }
}

Admission RedisLimiter::take_images(const std::string& key_id, const Limits& l, std::int64_t images,
                                    std::int64_t now_ms) {
  auto w = windows_at(now_ms);
  std::vector<std::string> args{std::to_string(w.minute),         std::to_string(w.day),
                                std::to_string(w.month),          std::to_string(l.ipm),
                                std::to_string(usd_to_nano(l.usd_per_month)), std::to_string(images)};
  return to_admission(redis_->eval_sync(kTakeImages, keys_for(key_id), args), now_ms);
}

Admission RedisLimiter::admit_sync(const std::string& key_id, const Limits& limits, const std::string& request_id,
                                   Checks checks, std::int64_t now_ms) {
  return to_admission(redis_->eval_sync(kAdmit, keys_for(key_id), admit_args(limits, request_id, checks, now_ms)),
                      now_ms);
}

Counters RedisLimiter::settle_sync(const std::string& key_id, const std::string& request_id,
                                   const Consumption& used, std::int64_t now_ms) {
  return to_admission(redis_->eval_sync(kSettle, keys_for(key_id), settle_args(request_id, used, now_ms)), now_ms)
      .counters;
}

}  // namespace osprey::access
