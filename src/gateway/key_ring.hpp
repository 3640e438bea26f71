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
//
// A ring never changes its keys: when the keys are re-read (a rotated
// secret), the gateway builds a new ring and requests already running keep
// the one they started with. The new ring remembers the keys it replaced
// (`retired`) so that an upstream echoing an old key is still scrubbed.
// An empty ring is a keyless upstream (Ollama, llama.cpp): no Authorization.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::gateway {

class KeyRing {
 public:
  explicit KeyRing(std::vector<std::string> keys, std::vector<std::string> retired = {});

  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }
  const std::string& key(std::size_t i) const { return keys_[i]; }
  const std::vector<std::string>& keys() const { return keys_; }

  // Every key this ring or its predecessors held (for redaction).
  const std::vector<std::string>& secrets() const { return secrets_; }
  // Whether `text` contains one of secrets(); redact() replaces them by [REDACTED].
  bool echoed_in(std::string_view text) const;
  std::string redact(std::string_view text) const;

  std::size_t pick();
  void rest(std::size_t i, std::chrono::milliseconds for_how_long);

 private:
  static long long now_ms();
  std::vector<std::string> keys_;
  std::vector<std::string> secrets_;
  std::unique_ptr<std::atomic<long long>[]> resting_until_;  // steady ms
  std::atomic<std::size_t> next_{0};
};

}  // namespace osprey::gateway
