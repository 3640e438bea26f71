#include "gateway/key_ring.hpp"

#include <algorithm>

namespace osprey::gateway {

KeyRing::KeyRing(std::vector<std::string> keys, std::vector<std::string> retired)
    : keys_(std::move(keys)), resting_until_(new std::atomic<long long>[keys_.empty() ? 1 : keys_.size()]) {
  for (std::size_t i = 0; i < keys_.size(); ++i) resting_until_[i].store(0);
  // Keys shorter than 6 characters would redact ordinary words: not secrets.
  for (const auto* list : {&keys_, &retired})
    for (const auto& k : *list)
      if (k.size() >= 6 && std::find(secrets_.begin(), secrets_.end(), k) == secrets_.end()) secrets_.push_back(k);
}

bool KeyRing::echoed_in(std::string_view text) const {
  for (const auto& k : secrets_)
    if (text.find(k) != std::string_view::npos) return true;
  return false;
}

std::string KeyRing::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& k : secrets_)
    for (auto pos = out.find(k); pos != std::string::npos; pos = out.find(k, pos)) out.replace(pos, k.size(), "[REDACTED]");
  return out;
}

long long KeyRing::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::size_t KeyRing::pick() {
  const std::size_t n = keys_.size();
  if (n <= 1) return 0;
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  const long long now = now_ms();
  std::size_t best = start % n;
  long long best_until = resting_until_[best].load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = (start + k) % n;
    long long until = resting_until_[i].load(std::memory_order_relaxed);
    if (until <= now) return i;
    if (until < best_until) {
      best = i;
      best_until = until;
    }
  }
  return best;
}

void KeyRing::rest(std::size_t i, std::chrono::milliseconds d) {
  if (i >= keys_.size()) return;
  resting_until_[i].store(now_ms() + d.count(), std::memory_order_relaxed);
}

}  // namespace osprey::gateway
