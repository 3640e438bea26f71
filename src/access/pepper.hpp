#pragma once
// The server-side pepper that key hashes are keyed with.
//
// Stored key hashes are HMAC-SHA-256(pepper, key): a copy of keys.db alone
// does not let anyone test guesses offline. The pepper comes from
// AccessConfig::pepper (OSPREY_PEPPER, possibly an enc: secret) or, when that
// is empty, from data_dir/pepper: 32 random bytes, hex, created on first use
// with mode 0600 and never rewritten. Changing the pepper invalidates every
// key, so the server and the `osprey keys` CLI must resolve the same one.

#include <string>
#include <string_view>

namespace osprey::access {

// Returns the pepper, creating data_dir/pepper if needed (atomically: two
// processes starting at once agree on one file). Registers it as a secret.
// Throws std::runtime_error on I/O failure.
std::string resolve_pepper(const std::string& configured, const std::string& data_dir);

// HMAC-SHA-256(pepper, key): 32 raw bytes.
std::string hash_key(std::string_view pepper, std::string_view key);

// Constant-time equality of two hashes (sodium_memcmp).
bool hashes_equal(std::string_view a, std::string_view b);

}  // namespace osprey::access
