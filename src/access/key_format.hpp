#pragma once
// The shape of an Osprey client API key.
//
//   osk_ 7Xq...(24 base62 chars, ~143 bits of randomness)... Ab12Cd
//   \__/ \_______________ body ________________________/ \checksum/
//
// The 6-character checksum is CRC-32 of "osk_" + body, in base62, so secret
// scanners (and our own auth path) can tell a real key from a typo or a
// random string without touching the database. The full key is shown once,
// at creation; afterwards only display_prefix() + "..." + last4 is shown.

#include <string>
#include <string_view>

namespace osprey::access {

inline constexpr std::string_view kKeyPrefix = "osk_";
inline constexpr std::size_t kKeyBodyChars = 24;
inline constexpr std::size_t kKeyChecksumChars = 6;
inline constexpr std::size_t kKeyLength = 4 + kKeyBodyChars + kKeyChecksumChars;

// A fresh key from libsodium's CSPRNG.
std::string generate_key();
// A fresh key id, "key_" + 12 base62 chars (public, appears in logs).
std::string generate_key_id();
// True when `s` has the osk_ shape and its checksum matches.
bool is_well_formed_key(std::string_view s);

// What may be shown of a key after creation.
std::string key_prefix(std::string_view key);  // "osk_" + 4 chars (shorter for odd keys)
std::string key_last4(std::string_view key);

// Exposed for tests and the fuzz target.
std::uint32_t crc32(std::string_view data);
std::string base62_fixed(std::uint64_t v, std::size_t width);

}  // namespace osprey::access
