#pragma once
// KeyRing: the upstream API keys, used round-robin; a key the upstream
// rejected (401) or throttled (429) rests for a while and the others take
// its turn (failover). Lock-free: safe from every I/O thread at once.
//
//   KeyRing ring(cfg.api_keys);
//   std::size_t i = ring.pick();               // index of the key to use
//   ring.rest(i, std::chrono::seconds(30));    // after a 401/429 on key i
//   ring.key(i)
//
// When every key is resting, pick() returns the one that recovers first.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace osprey::gateway {

class KeyRing {
 public:
  explicit KeyRing(std::vector<std::string> keys);

  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }
  const std::string& key(std::size_t i) const { return keys_[i]; }
  const std::vector<std::string>& keys() const { return keys_; }

  std::size_t pick();
  void rest(std::size_t i, std::chrono::milliseconds for_how_long);

 private:
  static long long now_ms();
  std::vector<std::string> keys_;
  std::unique_ptr<std::atomic<long long>[]> resting_until_;  // steady ms
  std::atomic<std::size_t> next_{0};
};

}  // namespace osprey::gateway
